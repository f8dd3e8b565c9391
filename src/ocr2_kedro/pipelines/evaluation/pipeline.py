"""Evaluation wiring: the benchmark is prepared once, then every model under evaluation is a
namespaced copy of one template (`evaluation.<model>`), fed by the checkpoint it evaluates, so
`kedro viz` shows which checkpoint produced which result. The models are the entries of
`evaluation.models` (conf/<env>/parameters_evaluation.yml): adding one is one YAML entry."""

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.dynamic import read_parameters
from ocr2_kedro.pipelines.summary import summary_node

from .nodes import (
    collect_references,
    combine_evaluation_rejects,
    compare_models,
    compare_models_paired,
    compare_selectors,
    evaluation_metrics,
    execute_samples,
    measure_reference_loss,
    plot_evaluation,
    prepare_benchmark,
    resolve_model,
    resolve_untrained_student,
    sample_and_critique,
    score_ioi,
    score_samples,
    summarize_evaluation,
)

# Each model's plots (plot_evaluation's outputs), listed by title in the stage's summary.
PLOTS = ("selection_plot", "temperature_plot")


def evaluated_models() -> dict[str, str | None]:
    """Model under evaluation -> the dataset it evaluates (`evaluation.models.<model>.checkpoint`;
    None: only its `path`), read from the run's parameters when the pipeline is built."""
    models = read_parameters("evaluation").get("models") or {}
    return {name: (model or {}).get("checkpoint") for name, model in models.items()}


def create_model_template() -> Pipeline:
    """One model: sample, self-critique, GenSelect, execute, score, compare the selectors,
    summarize, plot."""
    return Pipeline(
        [
            Node(
                resolve_model,
                inputs=["checkpoint", "params:model"],
                outputs="model_ref",
                name="resolve_model",
            ),
            Node(
                sample_and_critique,
                inputs=["evaluation_problems", "model_ref", "evaluation_settings"],
                outputs=["samples", "self_critiques", "genselect"],
                name="sample_and_critique",
            ),
            Node(
                execute_samples,
                inputs=["samples", "evaluation_problems", "evaluation_settings"],
                outputs="executions",
                name="execute_samples",
            ),
            Node(
                score_samples,
                inputs=[
                    "samples",
                    "self_critiques",
                    "executions",
                    "evaluation_problems",
                    "evaluation_settings",
                    "genselect",
                ],
                outputs=["sample_results", "problem_results"],
                name="score_samples",
            ),
            Node(
                compare_selectors,
                inputs=[
                    "problem_results",
                    "sample_results",
                    "self_critiques",
                    "model_ref",
                    "evaluation_settings",
                ],
                outputs=["selectors", "selectors_markdown", "selector_metrics"],
                name="compare_selectors",
            ),
            Node(
                score_ioi,
                inputs=[
                    "samples",
                    "self_critiques",
                    "executions",
                    "evaluation_problems",
                    "evaluation_settings",
                ],
                outputs=["ioi_scores", "ioi_metrics"],
                name="score_ioi",
            ),
            Node(
                summarize_evaluation,
                inputs=["problem_results", "sample_results", "evaluation_settings"],
                outputs="summary",
                name="summarize_evaluation",
            ),
            Node(
                measure_reference_loss,
                inputs=[
                    "evaluation_references",
                    "evaluation_problems",
                    "model_ref",
                    "evaluation_settings",
                ],
                outputs=["reference_loss", "reference_token_losses"],
                name="measure_reference_loss",
            ),
            Node(
                evaluation_metrics,
                inputs=["summary", "reference_loss", "ioi_metrics", "selector_metrics"],
                outputs="metrics",
                name="log_evaluation_metrics",
            ),
            Node(
                plot_evaluation,
                inputs=["summary", "evaluation_settings"],
                outputs=["selection_plot", "temperature_plot"],
                name="plot_evaluation",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    shared = Pipeline(
        [
            Node(
                prepare_benchmark,
                inputs=["benchmark_problems", "params:evaluation"],
                outputs=["evaluation_problems", "evaluation_benchmark_rejects"],
                name="prepare_benchmark",
            ),
            Node(
                collect_references,
                inputs=[
                    "evaluation_reference_solutions",
                    "evaluation_problems",
                    "params:evaluation",
                ],
                outputs=["evaluation_references", "evaluation_reference_rejects"],
                name="collect_references",
            ),
            Node(
                combine_evaluation_rejects,
                inputs=["evaluation_benchmark_rejects", "evaluation_reference_rejects"],
                outputs="evaluation_rejects",
                name="combine_evaluation_rejects",
            ),
            Node(
                resolve_untrained_student,
                inputs="params:training.student",
                outputs="untrained_student",
                name="resolve_untrained_student",
            ),
        ],
        namespace="evaluation",
        inputs={"benchmark_problems", "evaluation_reference_solutions"},
        outputs={
            "evaluation_problems",
            "evaluation_references",
            "evaluation_rejects",
            "untrained_student",
            "evaluation_benchmark_rejects",
            "evaluation_reference_rejects",
        },
        parameters={"params:evaluation", "params:training.student"},
    )
    models = evaluated_models()
    # Each model reads the run's evaluation settings (an ablation variant maps
    # `evaluation_settings` to its own instead) and its own entry under evaluation.models. A model
    # without a checkpoint dataset evaluates its `path`, which then stands in for the checkpoint.
    per_model = [
        Pipeline(
            create_model_template(),
            namespace=f"evaluation.{name}",
            inputs={
                "checkpoint": checkpoint or f"params:evaluation.models.{name}.path",
                "evaluation_problems": "evaluation_problems",
                "evaluation_references": "evaluation_references",
                "evaluation_settings": "params:evaluation",
            },
            parameters={"params:model": f"params:evaluation.models.{name}"},
        )
        for name, checkpoint in models.items()
    ]
    # The node names each model's tables plainly; the mapping below wires them to the namespaces.
    model_tables = {
        f"{name}_{table}": f"evaluation.{name}.{table}"
        for name in models
        for table in ("summary", "reference_loss")
    }
    # Per-unit tables, so the paired comparison pairs models over the same problems and references.
    unit_tables = {
        f"{name}_{table}": f"evaluation.{name}.{table}"
        for name in models
        for table in ("problem_results", "reference_token_losses")
    }
    comparison = Pipeline(
        [
            Node(
                compare_models,
                inputs=list(model_tables),
                outputs=["evaluation_comparison", "evaluation_comparison_markdown"],
                name="compare_models",
            ),
            Node(
                compare_models_paired,
                inputs=["params:evaluation", *unit_tables],
                outputs=[
                    "evaluation_differences",
                    "evaluation_differences_markdown",
                    "evaluation_differences_plot",
                    "evaluation_differences_metrics",
                ],
                name="compare_models_paired",
            ),
        ],
        namespace="evaluation",
        inputs={**model_tables, **unit_tables},
        outputs={
            "evaluation_comparison",
            "evaluation_comparison_markdown",
            "evaluation_differences",
            "evaluation_differences_markdown",
            "evaluation_differences_plot",
            "evaluation_differences_metrics",
        },
        parameters={"params:evaluation"},
    )
    # Plots named plainly in the node too, wired to the namespaces by the mapping.
    plots = {f"{name}_{plot}": f"evaluation.{name}.{plot}" for name in models for plot in PLOTS}
    # Each model's IOI and selector tables, read by the summary too (so drawn inside the stage's box).
    tables = {
        f"{name}_{table}": f"evaluation.{name}.{table}"
        for name in models
        for table in ("ioi_scores", "selectors", "selectors_markdown")
    }
    summary = Pipeline(
        [
            summary_node(
                "evaluation",
                [
                    "evaluation_problems",
                    "evaluation_rejects",
                    "evaluation_comparison",
                    "evaluation_comparison_markdown",
                    "evaluation_differences",
                    "evaluation_differences_markdown",
                    "evaluation_differences_plot",
                    *plots,
                    *tables,
                ],
                shown=["evaluation_comparison"],
            )
        ],
        inputs={**plots, **tables},
    )
    return shared + sum(per_model, Pipeline([])) + comparison + summary

"""Evaluation wiring: the benchmark is prepared once, then every model under evaluation is a
namespaced copy of one template (`evaluation.<model>`), fed by the checkpoint it evaluates, so
`kedro viz` shows which checkpoint produced which result."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    check_evaluation_settings,
    collect_references,
    combine_evaluation_rejects,
    compare_models,
    evaluation_metrics,
    execute_samples,
    measure_reference_loss,
    plot_evaluation,
    prepare_benchmark,
    resolve_model,
    resolve_untrained_student,
    sample_and_critique,
    score_samples,
    summarize_evaluation,
)

# Model under evaluation -> the dataset it is loaded from.
MODELS = {
    "base": "untrained_student",
    "stage1": "sft_stage1_checkpoint",
    "stage2": "sft_stage2_checkpoint",
}


def create_model_template() -> Pipeline:
    """One model: sample, self-critique, execute, score, summarize, plot."""
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
                outputs=["samples", "self_critiques"],
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
                ],
                outputs=["sample_results", "problem_results"],
                name="score_samples",
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
                outputs="reference_loss",
                name="measure_reference_loss",
            ),
            Node(
                evaluation_metrics,
                inputs=["summary", "reference_loss"],
                outputs="metrics",
                name="log_evaluation_metrics",
            ),
            Node(
                plot_evaluation,
                inputs=["summary", "evaluation_settings"],
                outputs=[
                    "selection_plot",
                    "selection_plot_mlflow",
                    "temperature_plot",
                    "temperature_plot_mlflow",
                ],
                name="plot_evaluation",
            ),
        ]
    )


def settings_node() -> Node:
    return Node(
        check_evaluation_settings,
        inputs="params:evaluation",
        outputs="evaluation_settings",
        name="check_evaluation_settings",
    )


def create_pipeline(**kwargs) -> Pipeline:
    shared = Pipeline(
        [
            settings_node(),
            Node(
                prepare_benchmark,
                inputs=["benchmark_problems", "evaluation_settings"],
                outputs=["evaluation_problems", "evaluation_benchmark_rejects"],
                name="prepare_benchmark",
            ),
            Node(
                collect_references,
                inputs=[
                    "evaluation_reference_solutions",
                    "evaluation_problems",
                    "evaluation_settings",
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
    # Each model checks the settings itself, so that one model's namespace runs alone with the
    # current parameters (an ablation variant builds its own settings instead).
    per_model = [
        Pipeline(
            Pipeline([settings_node()]) + create_model_template(),
            namespace=f"evaluation.{name}",
            inputs={
                "checkpoint": checkpoint,
                "evaluation_problems": "evaluation_problems",
                "evaluation_references": "evaluation_references",
            },
            parameters={"params:evaluation"},
        )
        for name, checkpoint in MODELS.items()
    ]
    # The node names each model's tables plainly; the mapping below wires them to the namespaces.
    model_tables = {
        f"{name}_{table}": f"evaluation.{name}.{table}"
        for name in MODELS
        for table in ("summary", "reference_loss")
    }
    comparison = Pipeline(
        [
            Node(
                compare_models,
                inputs=list(model_tables),
                outputs=["evaluation_comparison", "evaluation_comparison_mlflow"],
                name="compare_models",
            )
        ],
        namespace="evaluation",
        inputs=model_tables,
        outputs={"evaluation_comparison", "evaluation_comparison_mlflow"},
    )
    return shared + sum(per_model, Pipeline([])) + comparison

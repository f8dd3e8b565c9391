"""Ablation wiring (Kedro's dynamic-pipelines pattern: the sweeps and variants are read from
parameters_ablations.yml, `ablations.sweeps`, by `pipelines.dynamic`). Every sweep is a namespace `ablations.<sweep>` holding one namespaced
copy of the training and evaluation templates per variant (`ablations.<sweep>.<variant>`) and the
sweep's comparison, so `kedro run --pipelines ablations --namespaces ablations.data_size` runs one
sweep and `--namespaces ablations.data_size.size_737k` one variant."""

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.dynamic import read_parameters
from ocr2_kedro.pipelines.evaluation.pipeline import create_model_template
from ocr2_kedro.pipelines.training.pipeline import FINAL_CHECKPOINT, create_training_template

from .nodes import (
    compare_variants,
    compare_variants_paired,
    record_variant,
    select_variant_data,
    variant_settings,
)


def sweeps() -> dict[str, list[str]]:
    """sweep -> its variants, as the run's parameters declare them (`ablations.sweeps`)."""
    declared = read_parameters("ablations").get("sweeps") or {}
    return {sweep: list(variants or {}) for sweep, variants in declared.items()}


# Datasets every variant shares with the rest of the project.
SHARED = ("ocr2_export", "preference_pairs", "evaluation_problems", "evaluation_references")


def create_variant_template() -> Pipeline:
    """One variant: select its data, resolve its settings, train, evaluate, record."""
    setup = Pipeline(
        [
            Node(
                select_variant_data,
                inputs=["ocr2_export", "params:ablations", "params:variant"],
                outputs=["variant_export", "selection"],
                name="select_variant_data",
            ),
            Node(
                variant_settings,
                inputs="params:variant",
                outputs=["training_settings", "evaluation_settings"],
                name="variant_settings",
            ),
        ]
    )
    training = Pipeline(create_training_template(), inputs={"ocr2_export": "variant_export"})
    # The variant's final checkpoint: its last stage's (DPO, stage 2 or stage 1; the training
    # template passes the previous checkpoint through every stage the variant leaves out).
    evaluation = Pipeline(
        create_model_template(),
        inputs={"checkpoint": FINAL_CHECKPOINT},
        parameters={"params:model": "params:ablations.model"},
    )
    record = Pipeline(
        [
            Node(
                record_variant,
                inputs=[
                    "variant_export",
                    "selection",
                    "summary",
                    "reference_loss",
                ],
                outputs="variant_result",
                name="record_variant",
            )
        ]
    )
    return setup + training + evaluation + record


def create_pipeline(**kwargs) -> Pipeline:
    pipelines = []
    # Every parameter the template reads besides its own variant's keeps its project-wide name.
    shared_parameters = {
        name
        for name in create_variant_template().inputs()
        if name.startswith("params:") and name != "params:variant"
    }
    for sweep, variants in sweeps().items():
        pipelines += [
            Pipeline(
                create_variant_template(),
                namespace=f"ablations.{sweep}.{variant}",
                inputs=set(SHARED),
                parameters={
                    **{name: name for name in shared_parameters},
                    "params:variant": f"params:ablations.sweeps.{sweep}.{variant}",
                },
            )
            for variant in variants
        ]
        # The node names each variant's result plainly; the mapping wires them to the namespaces.
        results = {
            f"{variant}_result": f"ablations.{sweep}.{variant}.variant_result"
            for variant in variants
        }
        # Per variant, in declared order (the first is every comparison's baseline): its result
        # (which names it), and the per-unit tables the paired differences are computed over.
        unit_tables = {
            f"{variant}_{table.removeprefix('variant_')}": f"ablations.{sweep}.{variant}.{table}"
            for variant in variants
            for table in ("variant_result", "problem_results", "reference_token_losses")
        }
        pipelines.append(
            Pipeline(
                [
                    Node(
                        compare_variants,
                        inputs=list(results),
                        outputs=["comparison", "comparison_markdown", "plot"],
                        name="compare_variants",
                    ),
                    Node(
                        compare_variants_paired,
                        inputs=["params:evaluation.bootstrap", *unit_tables],
                        outputs=[
                            "differences",
                            "differences_markdown",
                            "differences_plot",
                            "differences_metrics",
                        ],
                        name="compare_variants_paired",
                    ),
                ],
                namespace=f"ablations.{sweep}",
                inputs={**results, **unit_tables},
                parameters={"params:evaluation.bootstrap"},
            )
        )
    return sum(pipelines, Pipeline([]))

"""Ablation wiring (Kedro's dynamic-pipelines pattern: the namespaces are declared here, their settings
in parameters_ablations.yml). Every sweep is a namespace `ablations.<sweep>` holding one namespaced
copy of the training and evaluation templates per variant (`ablations.<sweep>.<variant>`) and the
sweep's comparison, so `kedro run --pipelines ablations --namespaces ablations.data_size` runs one
sweep and `--namespaces ablations.data_size.size_737k` one variant."""

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.evaluation.pipeline import create_model_template
from ocr2_kedro.pipelines.training.nodes import validate_training_config
from ocr2_kedro.pipelines.training.pipeline import FINAL_CHECKPOINT, create_training_template

from .nodes import compare_variants, record_variant, select_variant_data, variant_settings

# sweep -> its variants. A new variant is a name here and its overrides under
# ablations.variants.<name> in parameters_ablations.yml.
SWEEPS = {
    "data_size": ("size_737k", "size_2500k"),
    "language_mix": ("python_only", "cpp_only", "python_and_cpp"),
    "execution_filter": ("all_samples", "passing_only", "failing_only"),
    "training_stage": ("stage1_only", "stage1_and_stage2"),
    "student": ("student_default", "student_alternative"),
    "preference": ("sft", "sft_plus_dpo"),
}

# Datasets and parameters every variant shares with the rest of the project.
SHARED = ("ocr2_export", "preference_pairs", "evaluation_problems", "evaluation_references")
SHARED_PARAMETERS = (
    "params:training",
    "params:evaluation",
    "params:ablations",
    "params:ablations.model",
)


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
                inputs=[
                    "params:training",
                    "params:evaluation",
                    "params:ablations",
                    "params:variant",
                ],
                outputs=["training_settings", "evaluation_settings"],
                name="variant_settings",
            ),
            Node(
                validate_training_config,
                inputs="training_settings",
                outputs="training_plan",
                name="validate_training_config",
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
                    "params:variant",
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
    for sweep, variants in SWEEPS.items():
        pipelines += [
            Pipeline(
                create_variant_template(),
                namespace=f"ablations.{sweep}.{variant}",
                inputs=set(SHARED),
                parameters={
                    **{name: name for name in SHARED_PARAMETERS},
                    "params:variant": f"params:ablations.variants.{variant}",
                },
            )
            for variant in variants
        ]
        # The node names each variant's result plainly; the mapping wires them to the namespaces.
        results = {
            f"{variant}_result": f"ablations.{sweep}.{variant}.variant_result"
            for variant in variants
        }
        pipelines.append(
            Pipeline(
                [
                    Node(
                        compare_variants,
                        inputs=list(results),
                        outputs=["comparison", "comparison_mlflow", "plot", "plot_mlflow"],
                        name="compare_variants",
                    )
                ],
                namespace=f"ablations.{sweep}",
                inputs=results,
            )
        )
    return sum(pipelines, Pipeline([]))

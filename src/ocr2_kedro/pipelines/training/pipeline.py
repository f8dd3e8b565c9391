"""Training wiring: the settings are validated into a plan, then a template trains stage 1 and stage
2 from an export; the ablations pipeline reuses the template, namespaced once per variant."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_sft_examples, train_stage1, train_stage2, validate_training_config


def create_training_template() -> Pipeline:
    """Export + plan -> SFT examples -> stage-1 checkpoint -> stage-2 checkpoint."""
    return Pipeline(
        [
            Node(
                build_sft_examples,
                inputs=["ocr2_export", "training_plan"],
                outputs=["sft_stage1_examples", "sft_stage2_examples", "training_rejects"],
                name="build_sft_examples",
            ),
            Node(
                train_stage1,
                inputs=["sft_stage1_examples", "training_plan"],
                outputs=["sft_stage1_checkpoint", "sft_stage1_metrics"],
                name="train_stage1",
            ),
            Node(
                train_stage2,
                inputs=["sft_stage2_examples", "sft_stage1_checkpoint", "training_plan"],
                outputs=["sft_stage2_checkpoint", "sft_stage2_metrics"],
                name="train_stage2",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    return (
        Pipeline(
            [
                Node(
                    validate_training_config,
                    inputs="params:training",
                    outputs="training_plan",
                    name="validate_training_config",
                )
            ]
        )
        + create_training_template()
    )

"""Training wiring: the settings are validated into a plan, then a template trains stage 1 and stage
2 from an export and DPO from the preference pairs; the ablations pipeline reuses the template,
namespaced once per variant. Stages the plan leaves out pass the previous checkpoint on, so
`dpo_checkpoint` is always the run's final model."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_sft_examples,
    train_dpo,
    train_stage1,
    train_stage2,
    validate_training_config,
)

# The run's final model, whatever its stages: DPO's, or the SFT checkpoint passed through.
FINAL_CHECKPOINT = "dpo_checkpoint"


def create_training_template() -> Pipeline:
    """Export + plan -> SFT examples -> stage-1 checkpoint -> stage-2 checkpoint; + preference pairs
    -> DPO checkpoint (the final model)."""
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
            Node(
                train_dpo,
                inputs=["preference_pairs", "sft_stage2_checkpoint", "training_plan"],
                outputs=[FINAL_CHECKPOINT, "dpo_metrics"],
                name="train_dpo",
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

"""Training wiring: a template trains stage 1 and stage 2 from an export and DPO from the preference
pairs, with `training_settings` (the run's `params:training` here; the ablations pipeline reuses the
template once per variant, namespaced, with the variant's own settings). Stages the settings leave
out pass the previous checkpoint on, so `dpo_checkpoint` is always the run's final model."""

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.summary import summary_node

from .nodes import (
    build_sft_examples,
    check_preference_pairs,
    train_dpo,
    train_stage1,
    train_stage2,
)

# The run's final model, whatever its stages: DPO's, or the SFT checkpoint passed through.
FINAL_CHECKPOINT = "dpo_checkpoint"
# What the template's nodes read their TrainingSettings from.
SETTINGS = "training_settings"


def create_training_template() -> Pipeline:
    """Export + settings -> SFT examples -> stage-1 checkpoint -> stage-2 checkpoint; + preference
    pairs -> DPO checkpoint (the final model). When the stages train DPO, too few pairs stop the
    template before its first node (`check_preference_pairs`, which passes the export on)."""
    return Pipeline(
        [
            Node(
                check_preference_pairs,
                inputs=["ocr2_export", "preference_pairs", SETTINGS],
                outputs="training_export",
                name="check_preference_pairs",
            ),
            Node(
                build_sft_examples,
                inputs=["training_export", SETTINGS],
                outputs=["sft_stage1_examples", "sft_stage2_examples", "training_rejects"],
                name="build_sft_examples",
            ),
            Node(
                train_stage1,
                inputs=["sft_stage1_examples", SETTINGS],
                outputs=["sft_stage1_checkpoint", "sft_stage1_metrics"],
                name="train_stage1",
            ),
            Node(
                train_stage2,
                inputs=["sft_stage2_examples", "sft_stage1_checkpoint", SETTINGS],
                outputs=["sft_stage2_checkpoint", "sft_stage2_metrics"],
                name="train_stage2",
            ),
            Node(
                train_dpo,
                inputs=["preference_pairs", "sft_stage2_checkpoint", SETTINGS],
                outputs=[FINAL_CHECKPOINT, "dpo_metrics"],
                name="train_dpo",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    # The run's own settings (validated once at start, handed over by the project's hook).
    # The summary closes the run's own training only (the ablations reuse the template without it).
    summary = summary_node(
        "training",
        ["sft_stage1_examples", "sft_stage2_examples", "training_rejects"],
        files=[FINAL_CHECKPOINT],
    )
    return Pipeline(create_training_template(), inputs={SETTINGS: "params:training"}) + Pipeline(
        [summary]
    )

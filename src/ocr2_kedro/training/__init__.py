"""Training engine: SFT examples, tokenization with assistant-only labels, packing, trainer launch.

Usable without Kedro:

    from ocr2_kedro.training import build_examples, tokenize_to_disk, train_sft

    batches = build_examples(pl.scan_parquet("export.parquet"), critique_ratio=None, seed=42)
    tokenized = tokenize_to_disk(pl.concat(batches.stage1), "student/", "tokenized/", 4096)
    result = train_sft("student/", tokenized.path, "runs/stage1", TrainerSettings())
"""

from .config import (
    DistributedSettings,
    DPOSettings,
    TrainerSettings,
    check_deepspeed_against_trainer,
    load_deepspeed_config,
    validate_deepspeed_config,
)
from .data import TokenizedData, token_totals, tokenize_to_disk
from .dpo import load_preference_dataset, train_dpo
from .examples import (
    CRITIQUE,
    EXAMPLE_SCHEMA,
    GENERATION,
    ExampleBatches,
    ExampleFilters,
    ExampleSet,
    build_critique_examples,
    build_examples,
    build_generation_examples,
    critique_copies,
    examples_frame,
    examples_from_frame,
    generation_prompt,
    mix_stage2,
)
from .launcher import launch_stage, launcher_command
from .tokenize import IGNORE_INDEX, packing_efficiency, padded_share, tokenize_examples
from .trainer import TrainResult, last_checkpoint, load_train_dataset, train_sft

__all__ = [
    "CRITIQUE",
    "EXAMPLE_SCHEMA",
    "GENERATION",
    "IGNORE_INDEX",
    "DPOSettings",
    "DistributedSettings",
    "ExampleBatches",
    "ExampleFilters",
    "ExampleSet",
    "TokenizedData",
    "TrainResult",
    "TrainerSettings",
    "build_critique_examples",
    "build_examples",
    "build_generation_examples",
    "check_deepspeed_against_trainer",
    "critique_copies",
    "examples_frame",
    "examples_from_frame",
    "generation_prompt",
    "last_checkpoint",
    "launch_stage",
    "launcher_command",
    "load_deepspeed_config",
    "load_preference_dataset",
    "load_train_dataset",
    "mix_stage2",
    "packing_efficiency",
    "padded_share",
    "token_totals",
    "tokenize_examples",
    "tokenize_to_disk",
    "train_dpo",
    "train_sft",
    "validate_deepspeed_config",
]

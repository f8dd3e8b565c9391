"""Training engine: SFT examples, tokenization with assistant-only labels, packing, trainer launch.

Usable without Kedro:

    from ocr2_kedro.training import build_generation_examples, tokenize_examples, train_sft
"""

from .config import (
    DistributedSettings,
    TrainerSettings,
    check_deepspeed_against_trainer,
    load_deepspeed_config,
    validate_deepspeed_config,
)
from .examples import (
    CRITIQUE,
    GENERATION,
    ExampleFilters,
    ExampleSet,
    build_critique_examples,
    build_generation_examples,
    generation_prompt,
    mix_stage2,
)
from .launcher import launch_stage, launcher_command
from .tokenize import IGNORE_INDEX, packing_efficiency, padded_share, tokenize_examples
from .trainer import TrainResult, last_checkpoint, train_sft

__all__ = [
    "CRITIQUE",
    "GENERATION",
    "IGNORE_INDEX",
    "DistributedSettings",
    "ExampleFilters",
    "ExampleSet",
    "TrainResult",
    "TrainerSettings",
    "build_critique_examples",
    "build_generation_examples",
    "check_deepspeed_against_trainer",
    "generation_prompt",
    "last_checkpoint",
    "launch_stage",
    "launcher_command",
    "load_deepspeed_config",
    "mix_stage2",
    "packing_efficiency",
    "padded_share",
    "tokenize_examples",
    "train_sft",
    "validate_deepspeed_config",
]

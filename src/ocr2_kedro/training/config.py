"""Training configuration: trainer settings per stage, the distributed launch, DeepSpeed config checks.

These are the engine's own config types (plain dataclasses that cross process boundaries as JSON
in a launch spec). A pipeline builds them from its validated settings
(`ocr2_kedro.parameters.training.TrainingSettings`), where every value is checked; `from_dict`
only converts (and refuses a key it does not know)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class TrainerSettings:
    """What one training stage trains with (a subset of TRL's SFTConfig, named the same).

    The DPO stage uses the same settings through DPOConfig; packing does not apply to it (TRL 1.16's
    DPOTrainer pads each chosen/rejected pair) and max_length caps prompt + completion."""

    max_length: int = 512
    max_steps: int = 24
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    packing: bool = True
    packing_strategy: str = "bfd"
    gradient_checkpointing: bool = True
    precision: str = "auto"  # auto: bf16 where CUDA supports it, float32 otherwise
    attn_implementation: str = "sdpa"
    logging_steps: int = 1
    save_steps: int = 8
    save_total_limit: int = 2
    seed: int = 42

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrainerSettings:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown trainer settings: {sorted(unknown)}")
        return cls(**values)

    def merged(self, overrides: Mapping[str, Any] | None) -> TrainerSettings:
        return replace(self, **dict(overrides or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# TRL 1.16's DPOConfig.loss_type values (a list combines several, weighted by loss_weights).
DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


@dataclass(frozen=True)
class DPOSettings:
    """What the preference stage adds to the trainer settings (TRL DPOConfig names, plus min_pairs).

    The reference model is the SFT checkpoint the stage starts from (TRL loads a second copy of it;
    `precompute_ref_log_probs` computes its log-probabilities once before training instead of
    keeping it in memory)."""

    beta: float = 0.1
    loss_type: tuple[str, ...] = ("sigmoid",)
    loss_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0
    precompute_ref_log_probs: bool = False
    min_pairs: int = 1  # fewer pairs than this is an error, raised before any model is loaded

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> DPOSettings:
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown dpo settings: {sorted(unknown)}")
        loss_type = values.get("loss_type", cls.loss_type)
        values["loss_type"] = (loss_type,) if isinstance(loss_type, str) else tuple(loss_type)
        if values.get("loss_weights") is not None:
            values["loss_weights"] = tuple(float(w) for w in values["loss_weights"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["loss_type"] = list(self.loss_type)
        values["loss_weights"] = list(self.loss_weights) if self.loss_weights else None
        return values


@dataclass(frozen=True)
class DistributedSettings:
    """How a stage is launched. `none`: in this process. `deepspeed`/`torchrun`: a subprocess launcher."""

    launcher: str = "none"
    num_gpus: int | None = None  # per node; None lets the launcher use every visible device
    num_nodes: int = 1
    hostfile: str | None = None
    master_addr: str | None = None
    master_port: int = 29500
    deepspeed_config: str | None = None
    extra_launcher_args: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> DistributedSettings:
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown distributed settings: {sorted(unknown)}")
        if values.get("extra_launcher_args") is not None:
            values["extra_launcher_args"] = tuple(str(a) for a in values["extra_launcher_args"])
        else:
            values.pop("extra_launcher_args", None)
        return cls(**values)


def load_deepspeed_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DeepSpeed config {path} does not exist")
    text = path.read_text()
    config = yaml.safe_load(text) if path.suffix in (".yml", ".yaml") else json.loads(text)
    if not isinstance(config, dict):
        raise ValueError(f"DeepSpeed config {path} is not a mapping")
    return config


def validate_deepspeed_config(config: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Check a DeepSpeed config the way DeepSpeed will read it, before any process starts.

    Requires ZeRO stage 2 or 3 and validates the `zero_optimization` section with DeepSpeed's own
    schema (unknown keys are errors). "auto" values are left for the Hugging Face integration to fill
    from the trainer settings, so batch sizes and precision must be "auto" or agree with them.
    """
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    zero = config.get("zero_optimization")
    if not isinstance(zero, Mapping):
        raise ValueError(f"{source}: no zero_optimization section")
    stage = zero.get("stage")
    if stage not in (2, 3):
        raise ValueError(f"{source}: zero_optimization.stage must be 2 or 3, got {stage!r}")
    concrete = {key: value for key, value in zero.items() if value != "auto"}
    try:
        DeepSpeedZeroConfig(**concrete)
    except Exception as error:  # pydantic's ValidationError lists every offending key
        raise ValueError(f"{source}: invalid zero_optimization: {error}") from error
    for key in (
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "train_batch_size",
    ):
        value = config.get(key, "auto")
        if value != "auto" and not (isinstance(value, int) and value > 0):
            raise ValueError(f"{source}: {key} must be 'auto' or a positive integer, got {value!r}")
    for key in ("bf16", "fp16"):
        section = config.get(key)
        if section is not None and section.get("enabled", "auto") not in ("auto", True, False):
            raise ValueError(f"{source}: {key}.enabled must be 'auto' or a boolean")
    if (config.get("fp16") or {}).get("enabled") is True and (config.get("bf16") or {}).get(
        "enabled"
    ) is True:
        raise ValueError(f"{source}: fp16 and bf16 cannot both be enabled")
    return dict(config)


def check_deepspeed_against_trainer(
    config: Mapping[str, Any], settings: TrainerSettings, source: str = "config"
) -> None:
    """Explicit batch sizes in the DeepSpeed config must match the trainer's (HF refuses mismatches late)."""
    pairs = {
        "train_micro_batch_size_per_gpu": settings.per_device_train_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
    }
    for key, expected in pairs.items():
        value = config.get(key, "auto")
        if value != "auto" and value != expected:
            raise ValueError(f"{source}: {key}={value} but the trainer uses {expected}")

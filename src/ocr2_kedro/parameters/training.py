"""The training stage's settings (conf/<env>/parameters_training.yml): the student, which export
rows become examples, the trainer settings shared by every stage with each stage's overrides, DPO,
the distributed launch (with its DeepSpeed config checked against the trainer) and how checkpoints
reach MLflow. The training engine keeps its own config types (`ocr2_kedro.training.config`); the
methods here build them (`trainer_for`, `dpo_settings`, `distributed_settings`,
`example_filters`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ocr2_kedro.parameters.backends import GPU_INSTALL
from ocr2_kedro.parameters.base import Requirement, Settings, problems_of
from ocr2_kedro.training.config import (
    DPO_LOSS_TYPES,
    DistributedSettings,
    DPOSettings,
    TrainerSettings,
    check_deepspeed_against_trainer,
    load_deepspeed_config,
    validate_deepspeed_config,
)
from ocr2_kedro.training.examples import ExampleFilters

# The stage lists a run may train; the last one's checkpoint is the run's final model.
STAGE_LISTS = (
    ["stage1"],
    ["stage1", "stage2"],
    ["stage1", "dpo"],
    ["stage1", "stage2", "dpo"],
)
STAGES = ("stage1", "stage2", "dpo")
EMBEDDED_STUDENT = "embedded"
# Position-id packing; "wrapped" cuts examples mid-sequence and lets them attend to each other.
PACKING_STRATEGIES = ("bfd", "bfd_split")


class TrainerFields(Settings):
    """What one training stage trains with (TRL SFTConfig / DPOConfig names); `training.trainer`
    sets every one, a stage's `trainer` block overrides some (`TrainerOverrides`)."""

    max_length: int = Field(ge=16)
    max_steps: PositiveInt
    per_device_train_batch_size: PositiveInt
    gradient_accumulation_steps: PositiveInt
    learning_rate: PositiveFloat
    lr_scheduler_type: str
    warmup_steps: NonNegativeInt
    weight_decay: NonNegativeFloat
    max_grad_norm: NonNegativeFloat
    packing: bool
    packing_strategy: str
    gradient_checkpointing: bool
    precision: Literal["auto", "bf16", "fp32"]  # auto: bf16 where CUDA supports it
    attn_implementation: str
    logging_steps: PositiveInt
    save_steps: PositiveInt
    save_total_limit: PositiveInt | None
    seed: int

    @model_validator(mode="after")
    def _packing_by_position_ids(self) -> TrainerFields:
        if self.packing and self.packing_strategy not in PACKING_STRATEGIES:
            raise ValueError(
                f"packing_strategy must be one of {list(PACKING_STRATEGIES)} with packing on "
                f"(position-id packing), got {self.packing_strategy!r}"
            )
        return self


class TrainerOverrides(Settings):
    """A stage's changes to the shared trainer settings (a key left out keeps the shared value)."""

    max_length: int | None = Field(default=None, ge=16)
    max_steps: PositiveInt | None = None
    per_device_train_batch_size: PositiveInt | None = None
    gradient_accumulation_steps: PositiveInt | None = None
    learning_rate: PositiveFloat | None = None
    lr_scheduler_type: str | None = None
    warmup_steps: NonNegativeInt | None = None
    weight_decay: NonNegativeFloat | None = None
    max_grad_norm: NonNegativeFloat | None = None
    packing: bool | None = None
    packing_strategy: str | None = None
    gradient_checkpointing: bool | None = None
    precision: Literal["auto", "bf16", "fp32"] | None = None
    attn_implementation: str | None = None
    logging_steps: PositiveInt | None = None
    save_steps: PositiveInt | None = None
    save_total_limit: PositiveInt | None = None
    seed: int | None = None


class ExampleFilterSettings(Settings):
    """Which export rows become examples; null keeps everything, as the paper does."""

    judgements: list[str] | None  # e.g. [right]; a null judgement counts as "none"
    min_pass_rate: float | None = Field(ge=0.0, le=1.0)
    keep_unverified: bool  # with min_pass_rate: keep rows without a pass rate
    languages: list[str] | None


class TokenizeSettings(Settings):
    num_proc: PositiveInt | None  # null: every core this process may use
    batch_size: PositiveInt


class StageSettings(Settings):
    trainer: TrainerOverrides


class Stage2Settings(StageSettings):
    critique_ratio: NonNegativeFloat | None  # null: every critique example


class DPOStageSettings(Settings):
    """TRL DPOConfig's preference settings, `min_pairs` (fewer is an error before any model loads)
    and the stage's trainer overrides."""

    beta: PositiveFloat
    loss_type: str | list[str]
    loss_weights: list[float] | None
    label_smoothing: float = Field(ge=0.0, lt=0.5)
    precompute_ref_log_probs: bool
    min_pairs: PositiveInt
    trainer: TrainerOverrides

    @field_validator("loss_type")
    @classmethod
    def _known_losses(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        unknown = [name for name in names if name not in DPO_LOSS_TYPES]
        if not names or unknown:
            raise ValueError(f"must be one or more of {list(DPO_LOSS_TYPES)}, got {unknown}")
        return value

    @model_validator(mode="after")
    def _one_weight_per_loss(self) -> DPOStageSettings:
        losses = [self.loss_type] if isinstance(self.loss_type, str) else self.loss_type
        if self.loss_weights is not None and len(self.loss_weights) != len(losses):
            raise ValueError("loss_weights needs one weight per loss_type")
        return self


class DistributedLaunchSettings(Settings):
    """How a stage is launched: in this process (`none`) or by the deepspeed / torchrun launcher."""

    launcher: Literal["none", "deepspeed", "torchrun"]
    num_gpus: PositiveInt | None  # per node; null: every visible device
    num_nodes: PositiveInt
    hostfile: str | None
    master_addr: str | None
    master_port: int = Field(ge=1, le=65535)
    deepspeed_config: str | None  # a ZeRO-2/3 config (conf/paper/deepspeed/)
    extra_launcher_args: list[str]

    @model_validator(mode="after")
    def _launch_can_start(self) -> DistributedLaunchSettings:
        if self.launcher == "deepspeed" and not self.deepspeed_config:
            raise ValueError("launcher deepspeed needs distributed.deepspeed_config")
        if self.num_nodes > 1 and self.launcher == "deepspeed" and not self.hostfile:
            raise ValueError("a multi-node deepspeed launch (num_nodes > 1) needs a hostfile")
        if self.hostfile and not Path(self.hostfile).is_file():
            raise ValueError(f"hostfile {self.hostfile} does not exist")
        return self


class CheckpointLogging(Settings):
    log_checkpoint: Literal["auto", "artifact", "reference", "none"]
    max_artifact_mb: PositiveFloat  # auto: larger checkpoints are logged by reference


class TrainingSettings(Settings):
    student: str = Field(min_length=1)  # "embedded", a local path or a hub id
    system_prompt: str | None
    seed: int
    stages: list[str]
    work_dir: str = Field(min_length=1)
    keep_trainer_checkpoints: bool
    filters: ExampleFilterSettings
    tokenize: TokenizeSettings
    trainer: TrainerFields
    stage1: StageSettings
    stage2: Stage2Settings
    dpo: DPOStageSettings
    distributed: DistributedLaunchSettings
    mlflow: CheckpointLogging

    @field_validator("stages")
    @classmethod
    def _known_stage_list(cls, value: list[str]) -> list[str]:
        if value not in STAGE_LISTS:
            raise ValueError(
                f"must be one of {[list(s) for s in STAGE_LISTS]} (stage 1, optionally stage 2, "
                f"optionally DPO last), got {value}"
            )
        return value

    @model_validator(mode="after")
    def _stages_and_deepspeed_agree(self) -> TrainingSettings:
        # Each stage's merged trainer settings must hold together (packing with its strategy).
        for stage in STAGES:
            self.trainer_fields(stage)
        path = self.distributed.deepspeed_config
        if path:
            try:
                config = load_deepspeed_config(path)
            except FileNotFoundError as error:
                raise ValueError(f"distributed.deepspeed_config: {error}") from None
            # Its schema is DeepSpeed's own: checked when DeepSpeed is installed (a missing one is
            # a requirement, reported with the others).
            if importlib.util.find_spec("deepspeed") is not None:
                config = validate_deepspeed_config(config, path)
            for stage in STAGES:
                check_deepspeed_against_trainer(config, self.trainer_for(stage), path)
        return self

    # ------------------------------------------------------------------ the engine's config types

    def trainer_fields(self, stage: str) -> TrainerFields:
        """`stage`'s trainer settings: the shared ones with the stage's overrides over them."""
        overrides = getattr(self, stage).trainer.model_dump(exclude_unset=True)
        if not overrides:
            return self.trainer
        try:
            return TrainerFields.model_validate({**self.trainer.model_dump(), **overrides})
        except ValidationError as error:
            # The shared settings are valid on their own: what is wrong comes with the overrides.
            raise ValueError("; ".join(problems_of(error, f"{stage}.trainer"))) from None

    def trainer_for(self, stage: str) -> TrainerSettings:
        return TrainerSettings(**self.trainer_fields(stage).model_dump())

    def dpo_settings(self) -> DPOSettings:
        return DPOSettings.from_dict(self.dpo.model_dump(exclude={"trainer"}))

    def distributed_settings(self) -> DistributedSettings:
        return DistributedSettings.from_dict(self.distributed.model_dump())

    def example_filters(self) -> ExampleFilters:
        return ExampleFilters.from_dict(self.filters.model_dump())

    # ------------------------------------------------------------------------------ requirements

    def requirements(self) -> list[Requirement]:
        needs: list[Requirement] = []
        if self.student != EMBEDDED_STUDENT:
            needs.append(
                Requirement(
                    kind="model",
                    value=self.student,
                    path="training.student",
                    hint='a local checkpoint folder or a reachable hub id, or "embedded" (the '
                    "bundled SmolLM2-135M-Instruct)",
                )
            )
        for stage in self.stages:
            if self.trainer_fields(stage).attn_implementation == "flash_attention_2":
                where = (
                    f"training.{stage}.trainer.attn_implementation"
                    if getattr(self, stage).trainer.attn_implementation is not None
                    else "training.trainer.attn_implementation"
                )
                needs.append(
                    Requirement(
                        kind="component",
                        value="flash_attn",
                        path=where,
                        hint=f"Install flash-attn (in the `gpu` extra: {GPU_INSTALL}) or set {where}: sdpa",
                    )
                )
                break
        launch = self.distributed
        if launch.launcher == "deepspeed":
            needs.append(
                Requirement(
                    kind="component",
                    value="deepspeed",
                    path="training.distributed.launcher",
                    hint="or set training.distributed.launcher: none (train in this process)",
                )
            )
        if launch.launcher != "none" and launch.num_gpus:
            needs.append(
                Requirement(
                    kind="gpus",
                    value=launch.num_gpus,
                    path="training.distributed.num_gpus",
                    hint="set it to the GPUs a node has, or training.distributed.launcher: none",
                )
            )
        return needs

"""One SFT stage with TRL's SFTTrainer: assistant-only loss, position-id packing, resumable checkpoints.

Packing is TRL's best-fit-decreasing packing in padding-free form: examples are concatenated into
rows of at most `max_length` tokens and the batch is flattened into one sequence whose position ids
restart at every example. Without FlashAttention (CPU, sdpa or eager), transformers turns those
position ids into a block-diagonal causal mask, so packed examples never attend to each other
(tests/training/test_packing.py checks that packed and unpacked losses agree).

The training data is a `datasets` Dataset, normally the memory-mapped folder written by
`data.tokenize_to_disk`: every rank loads it with `load_from_disk`, packing is a `Dataset.map` whose
cache file the main process writes first and the other ranks then read, and the stage's token
counts are summed over Arrow batches. No rank holds the dataset as Python lists.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocr2_kedro.tracking import MlflowRun

from .config import TrainerSettings
from .data import TRAIN_COLUMNS, token_totals

logger = logging.getLogger(__name__)

FINAL_DIR = "final"


@dataclass
class TrainResult:
    final_dir: str
    global_step: int
    resumed_from: str | None
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "final_dir": self.final_dir,
            "global_step": self.global_step,
            "resumed_from": self.resumed_from,
            "history": self.history,
            "metrics": self.metrics,
        }


def use_bf16(precision: str) -> bool:
    import torch

    cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if precision == "bf16" and not cuda_bf16:
        raise ValueError(
            "precision bf16 asked for, but no CUDA device with bf16 support is visible"
        )
    return precision == "bf16" or (precision == "auto" and cuda_bf16)


def allow_cpu_deepspeed() -> None:
    """Let accelerate run DeepSpeed across CPU processes through gloo (the CI path; GPUs never need it).

    accelerate only starts DeepSpeed's process group for GPU-like backends; on a CPU-only machine
    launched with LOCAL_RANK/WORLD_SIZE it picks no backend and trains each process alone. This makes
    it pick gloo for that one case, after which DeepSpeed initializes as it does on GPUs.
    """
    import torch
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    if torch.cuda.is_available() or getattr(PartialState, "_ocr2_cpu_deepspeed", False):
        return
    original = PartialState._prepare_backend

    def prepare_backend(self, cpu=False, sagemaker_dp=False, backend=None):
        chosen, distributed_type = original(self, cpu, sagemaker_dp, backend)
        multi_process = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if (
            distributed_type == DistributedType.NO
            and not cpu
            and multi_process
            and os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
        ):
            return "gloo", DistributedType.MULTI_CPU
        return chosen, distributed_type

    PartialState._prepare_backend = prepare_backend
    PartialState._ocr2_cpu_deepspeed = True


def last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not output_dir.is_dir():
        return None
    return get_last_checkpoint(str(output_dir))


REAL_TOKENS_KEY = "ocr2_real_tokens"


class RowPackingCollator:
    """Batches of packed rows for attention kernels without variable-length support (sdpa, eager).

    TRL's padding-free collator flattens the whole batch into one sequence: right for FlashAttention's
    varlen kernels, but with sdpa/eager the mask of that sequence is (batch x max_length)^2 and the
    attention cost grows with the batch squared. Here each packed row stays its own row: position ids
    restart at every example (transformers derives a block-diagonal causal mask from them when no
    attention mask is given), rows are right-padded to the longest row with their own trailing
    segment, and labels are -100 on padding and at every example start.
    """

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(row["input_ids"]) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            length = len(row["input_ids"])
            input_ids[index, :length] = torch.tensor(row["input_ids"])
            labels[index, :length] = torch.tensor(row["labels"])
            segments = [*row.get("seq_lengths", [length]), width - length]
            position_ids[index] = torch.cat([torch.arange(n) for n in segments if n > 0])
        labels[position_ids == 0] = -100
        real = sum(len(row["input_ids"]) for row in rows)
        return {
            "input_ids": input_ids,
            "labels": labels,
            "position_ids": position_ids,
            REAL_TOKENS_KEY: torch.tensor(real),
        }


def uses_varlen_attention(attn_implementation: str) -> bool:
    return "flash" in attn_implementation


def _callbacks_and_trainer_class(kind: str = "sft"):
    """The metered TRL trainer of a stage kind ("sft": SFTTrainer, "dpo": DPOTrainer) and the step
    metrics callback; built lazily so that importing this module does not import transformers/trl."""
    from transformers import TrainerCallback
    from trl import DPOTrainer, SFTTrainer

    base = {"sft": SFTTrainer, "dpo": DPOTrainer}[kind]

    class MeteredTrainer(base):
        """Counts the positions each micro-batch computes and how many hold real tokens (not padding)."""

        def __init__(self, *args, token_counter: dict[str, int], **kwargs):
            super().__init__(*args, **kwargs)
            self.token_counter = token_counter

        def training_step(self, model, inputs, *args, **kwargs):
            input_ids = inputs["input_ids"]
            real = inputs.pop(REAL_TOKENS_KEY, None)  # from RowPackingCollator: not a model input
            if real is None:
                mask = inputs.get("attention_mask")
                real = mask.sum() if mask is not None else input_ids.numel()
            self.token_counter["positions"] += int(input_ids.numel())
            self.token_counter["real"] += int(real)
            return super().training_step(model, inputs, *args, **kwargs)

    class StepMetricsCallback(TrainerCallback):
        """Per-step loss, learning rate, grad norm and tokens/s: kept in memory and written to MLflow.

        Writes through MlflowClient into the run it is given (the node's, passed in by the caller;
        in a launched worker, the one the launcher passed down), never opening a run of its own;
        only the main process logs. `extra_keys`: more
        of the trainer's log keys to keep (DPO's rewards/margins, ...), named with "_" for "/".
        """

        def __init__(
            self,
            prefix: str,
            run: MlflowRun | None,
            token_counter: dict[str, int],
            extra_keys: tuple[str, ...] = (),
        ):
            self.prefix = prefix
            self.extra_keys = extra_keys
            self.token_counter = token_counter
            self.run_id = run.run_id if run is not None else None
            self.client = run.client() if run is not None else None
            self.history: list[dict[str, float]] = []
            self._last_time: float | None = None
            self._last_tokens: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self._last_time = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            now = time.perf_counter()
            record = {"step": float(state.global_step)}
            for key in ("loss", "learning_rate", "grad_norm", *self.extra_keys):
                if key in logs and logs[key] is not None and math.isfinite(float(logs[key])):
                    record[key.replace("/", "_")] = float(logs[key])
            # Real (non-padding) tokens of this process, scaled to all processes.
            tokens = self.token_counter["real"] * args.world_size
            if tokens:
                if self._last_tokens is not None and self._last_time is not None:
                    elapsed = now - self._last_time
                    if elapsed > 0 and tokens > self._last_tokens:
                        record["tokens_per_second"] = (tokens - self._last_tokens) / elapsed
                self._last_tokens = float(tokens)
            self._last_time = now
            self.history.append(record)
            if self.client is not None:
                from mlflow.entities import Metric

                stamp = int(time.time() * 1000)
                metrics = [
                    Metric(f"{self.prefix}.{key}", value, stamp, state.global_step)
                    for key, value in record.items()
                    if key != "step"
                ]
                self.client.log_batch(self.run_id, metrics=metrics)

    MeteredTrainer.__name__ = f"Metered{base.__name__}"
    return MeteredTrainer, StepMetricsCallback


def load_train_dataset(data: Any):
    """The training data as a `datasets` Dataset of input_ids and labels.

    data: a folder saved by `save_to_disk` (what `tokenize_to_disk` writes; memory-mapped), a
    Dataset, or a list of {"input_ids", "labels"} rows (small inputs, tests).
    """
    from datasets import Dataset, load_from_disk

    if isinstance(data, (str, os.PathLike)):
        dataset = load_from_disk(str(data))
    elif isinstance(data, Dataset):
        dataset = data
    else:
        rows = list(data)
        dataset = Dataset.from_dict({name: [row[name] for row in rows] for name in TRAIN_COLUMNS})
    missing = set(TRAIN_COLUMNS) - set(dataset.column_names)
    if missing:
        raise ValueError(f"training data lacks the columns {sorted(missing)}")
    return dataset.select_columns(TRAIN_COLUMNS)


def shared_arguments(
    settings: TrainerSettings,
    output_dir: Path,
    deepspeed_config: dict[str, Any] | str | None,
) -> dict[str, Any]:
    """The trainer arguments every stage kind shares (SFTConfig and DPOConfig name them alike):
    steps, optimizer, precision, checkpoints every `save_steps`, metrics through StepMetricsCallback."""
    if deepspeed_config is not None:
        allow_cpu_deepspeed()
    return {
        "output_dir": str(output_dir),
        "max_length": settings.max_length,
        "per_device_train_batch_size": settings.per_device_train_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "max_steps": settings.max_steps,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": settings.lr_scheduler_type,
        "warmup_steps": settings.warmup_steps,
        "weight_decay": settings.weight_decay,
        "max_grad_norm": settings.max_grad_norm,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "bf16": use_bf16(settings.precision),
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "report_to": "none",  # metrics go to the kedro-mlflow run through StepMetricsCallback
        "deepspeed": deepspeed_config,
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
        "model_init_kwargs": None,
    }


def load_student(model_path: str, settings: TrainerSettings):
    """(tokenizer, model) of the checkpoint a stage starts from. Call after the trainer config is
    built, so that ZeRO-3 can partition the weights while they load. Master weights stay float32;
    bf16 runs under autocast / DeepSpeed's mixed precision."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        model_path, dtype=torch.float32, attn_implementation=settings.attn_implementation
    )
    # SFTTrainer also passes use_cache=False: with a cache, transformers skips the packed-sequence mask.
    model.config.use_cache = False
    return tokenizer, model


@dataclass
class _Run:
    output: Any
    resumed_from: str | None
    wall_s: float
    final_dir: Path


def train_and_save(trainer, tokenizer, output_dir: Path, resume: bool, stage: str) -> _Run:
    """Train (from the last checkpoint-N in output_dir when `resume`), then save the model and
    tokenizer to output_dir/final."""
    resumed_from = last_checkpoint(output_dir) if resume else None
    if resumed_from:
        logger.info("%s: resuming from %s", stage, resumed_from)
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resumed_from)
    wall = time.perf_counter() - started
    final_dir = output_dir / FINAL_DIR
    if final_dir.exists() and trainer.is_world_process_zero():
        shutil.rmtree(final_dir)
    trainer.save_model(str(final_dir))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final_dir))
    return _Run(output, resumed_from, wall, final_dir)


def run_result(trainer, run: _Run, history: list[dict[str, float]], metrics: dict[str, float]):
    """The stage's TrainResult: `metrics` plus what every stage kind reports (runtime, losses,
    tokens/s, precision, world size)."""
    metrics = {
        **metrics,
        "train_runtime_s": run.wall_s,
        "train_loss": float(run.output.training_loss),
        "steps_this_run": float(run.output.global_step - _step_of(run.resumed_from)),
        "bf16": float(trainer.args.bf16),
        "world_size": float(trainer.accelerator.num_processes),
        "deepspeed": float(trainer.is_deepspeed_enabled),
    }
    speeds = [h["tokens_per_second"] for h in history if "tokens_per_second" in h]
    if speeds:
        metrics["tokens_per_second"] = sum(speeds) / len(speeds)
    losses = [h["loss"] for h in history if "loss" in h]
    if losses:
        metrics["first_loss"], metrics["last_loss"] = losses[0], losses[-1]
    return TrainResult(
        final_dir=str(run.final_dir),
        global_step=int(run.output.global_step),
        resumed_from=run.resumed_from,
        history=history,
        metrics=metrics,
    )


def train_sft(
    model_path: str,
    data: Any,
    output_dir: str | Path,
    settings: TrainerSettings,
    stage: str = "sft",
    deepspeed_config: dict[str, Any] | str | None = None,
    resume: bool = True,
    callbacks: list[Any] | None = None,
    run: MlflowRun | None = None,
) -> TrainResult:
    """Train `model_path` on tokenized data and save the result in output_dir/final; per-step
    metrics go to `run` (none: not logged).

    data: see `load_train_dataset` (a tokenized folder, a Dataset, or rows of input_ids and labels).

    Checkpoints go to output_dir/checkpoint-N every `save_steps`; with `resume`, a run that finds one
    there continues from the latest (optimizer, scheduler, RNG and data order included).
    """
    from trl import SFTConfig

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_train_dataset(data)
    if len(dataset) == 0:
        raise ValueError(f"{stage}: no training examples")
    data_totals = token_totals(dataset)
    # FlashAttention: TRL's padding-free packing (varlen kernels). Other kernels: rows packed here
    # with the same best-fit-decreasing algorithm and batched row by row (RowPackingCollator).
    trl_packing = settings.packing and uses_varlen_attention(settings.attn_implementation)
    row_packing = settings.packing and not trl_packing
    args = SFTConfig(
        **shared_arguments(settings, output_dir, deepspeed_config),
        packing=trl_packing,
        packing_strategy=settings.packing_strategy,
        padding_free=trl_packing,
    )
    tokenizer, model = load_student(model_path, settings)
    collator = None
    if row_packing:
        from trl.data_utils import pack_dataset

        # On a folder loaded from disk the packed rows go to a cache file beside it: the main
        # process writes it, the other ranks wait and then read it (shared storage across nodes).
        with args.main_process_first(local=False, desc="packing"):
            dataset = pack_dataset(dataset, settings.max_length, settings.packing_strategy)
        collator = RowPackingCollator(tokenizer.pad_token_id)
    trainer_class, callback_class = _callbacks_and_trainer_class("sft")
    token_counter = {"positions": 0, "real": 0}
    metrics_callback = callback_class(stage, run, token_counter)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=collator,
        callbacks=[metrics_callback, *(callbacks or [])],
        token_counter=token_counter,
    )
    packed_totals = token_totals(trainer.train_dataset)
    trained = train_and_save(trainer, tokenizer, output_dir, resume, stage)
    metrics = {
        "examples": float(data_totals["rows"]),
        "train_rows": float(packed_totals["rows"]),
        "train_tokens": float(data_totals["tokens"]),
        "trained_tokens": float(data_totals["trained_tokens"]),
        # Share of the packed rows' capacity (rows x max_length) filled by real tokens.
        "packing_efficiency": packed_totals["tokens"]
        / (packed_totals["rows"] * settings.max_length)
        if settings.packing and packed_totals["rows"]
        else 0.0,
        "non_padding_share": token_counter["real"] / token_counter["positions"]
        if token_counter["positions"]
        else 0.0,
    }
    return run_result(trainer, trained, metrics_callback.history, metrics)


def _step_of(checkpoint: str | None) -> int:
    if not checkpoint:
        return 0
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])

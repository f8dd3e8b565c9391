"""The preference stage after SFT: TRL's DPOTrainer on (prompt, chosen, rejected) pairs.

The pairs are in TRL's conversational preference layout (prompt: the system + user messages, chosen
/ rejected: one assistant message each); DPOTrainer applies the student's chat template and
tokenizes them itself. They are read by `datasets` from parquet into memory-mapped Arrow files (a
cache beside the parquet file, written by the main process first and then read by the other ranks),
only the three columns TRL needs.

Reference model: the SFT checkpoint the stage starts from. `ref_model=None` lets TRL load a second,
frozen copy of the policy from that same path, with the policy's dtype and attention kernel, and
prepare it its own way for DeepSpeed (ZeRO-3: partitioned, inference-only engine) or FSDP; with
`precompute_ref_log_probs` it computes the reference log-probabilities once before training and
keeps no second model. The policy starts as that checkpoint too, so the implicit reference is the
exact SFT model, as DPO defines it.

Trainer arguments, checkpoints (output_dir/checkpoint-N, resumed from the latest), the final model
in output_dir/final and the per-step MLflow metrics are the SFT stages' (trainer.py); DPO adds the
reward margins and accuracies TRL logs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ocr2_kedro.tracking import MlflowRun

from .config import DPOSettings, TrainerSettings
from .trainer import (
    TrainResult,
    _callbacks_and_trainer_class,
    load_student,
    run_result,
    shared_arguments,
    train_and_save,
)

logger = logging.getLogger(__name__)

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
# What DPOTrainer logs besides the loss, kept per step (MLflow: dpo.rewards_margins, ...).
DPO_LOG_KEYS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)
# Folder beside a pairs parquet file holding its memory-mapped Arrow copy.
ARROW_CACHE = "arrow_cache"


def _check_columns(names: list[str]) -> None:
    missing = set(PAIR_COLUMNS) - set(names)
    if missing:
        raise ValueError(
            f"preference pairs lack the columns {sorted(missing)} (TRL's preference layout: "
            "prompt, chosen, rejected)"
        )


def load_preference_dataset(data: Any):
    """The pairs as a `datasets` Dataset of prompt, chosen and rejected (nothing else is read).

    data: a parquet file or a folder of parquet files (memory-mapped through an Arrow cache beside
    them), a folder saved by `save_to_disk`, a Dataset, or a list of pair dicts (small inputs, tests).
    """
    import pyarrow.parquet as pq
    from datasets import Dataset, load_from_disk

    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if (path / "dataset_info.json").is_file():
            dataset = load_from_disk(str(path))
        else:
            files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
            if not files:
                raise FileNotFoundError(f"no preference pairs (parquet) at {path}")
            for file in files:
                _check_columns(pq.read_schema(file).names)
            dataset = Dataset.from_parquet(
                [str(f) for f in files],
                columns=list(PAIR_COLUMNS),
                cache_dir=str(files[0].parent / ARROW_CACHE),
            )
    elif isinstance(data, Dataset):
        dataset = data
    else:
        dataset = Dataset.from_list(list(data))
    _check_columns(dataset.column_names)
    return dataset.select_columns(list(PAIR_COLUMNS))


def train_dpo(
    model_path: str,
    data: Any,
    output_dir: str | Path,
    settings: TrainerSettings,
    dpo: DPOSettings,
    stage: str = "dpo",
    deepspeed_config: dict[str, Any] | str | None = None,
    resume: bool = True,
    callbacks: list[Any] | None = None,
    run: MlflowRun | None = None,
) -> TrainResult:
    """DPO of the SFT checkpoint at `model_path` on preference pairs; the result in output_dir/final,
    per-step metrics to `run` (none: not logged).

    data: see `load_preference_dataset`. Fewer than `dpo.min_pairs` pairs is an error before any
    model is loaded; pairs whose prompt alone fills `max_length` are dropped by TRL and counted.
    """
    from trl import DPOConfig

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = DPOConfig(
        **shared_arguments(settings, output_dir, deepspeed_config),
        beta=dpo.beta,
        loss_type=list(dpo.loss_type),
        loss_weights=list(dpo.loss_weights) if dpo.loss_weights else None,
        label_smoothing=dpo.label_smoothing,
        precompute_ref_log_probs=dpo.precompute_ref_log_probs,
    )
    with args.main_process_first(local=False, desc="preference pairs"):
        dataset = load_preference_dataset(data)
    if len(dataset) < dpo.min_pairs:
        raise ValueError(
            f"{stage}: {len(dataset)} preference pairs, fewer than min_pairs={dpo.min_pairs}"
        )
    tokenizer, model = load_student(model_path, settings)
    trainer_class, callback_class = _callbacks_and_trainer_class("dpo")
    token_counter = {"positions": 0, "real": 0}
    metrics_callback = callback_class(stage, run, token_counter, extra_keys=DPO_LOG_KEYS)
    trainer = trainer_class(
        model=model,
        ref_model=None,  # TRL's copy of the SFT checkpoint (see the module docstring)
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[metrics_callback, *(callbacks or [])],
        token_counter=token_counter,
    )
    trained_pairs = len(trainer.train_dataset)
    if trained_pairs == 0:
        raise ValueError(
            f"{stage}: every pair's prompt fills max_length={settings.max_length}: raise max_length"
        )
    if trained_pairs < len(dataset):
        logger.warning(
            "%s: %d of %d pairs dropped by TRL (prompt alone fills max_length=%d)",
            stage,
            len(dataset) - trained_pairs,
            len(dataset),
            settings.max_length,
        )
    trained = train_and_save(trainer, tokenizer, output_dir, resume, stage)
    history = metrics_callback.history
    metrics = {
        "pairs": float(len(dataset)),
        "trained_pairs": float(trained_pairs),
        "pairs_prompt_too_long": float(len(dataset) - trained_pairs),
        "beta": float(dpo.beta),
        "non_padding_share": token_counter["real"] / token_counter["positions"]
        if token_counter["positions"]
        else 0.0,
    }
    for key in ("rewards_margins", "rewards_accuracies"):
        values = [h[key] for h in history if key in h]
        if values:
            metrics[f"first_{key}"], metrics[f"last_{key}"] = values[0], values[-1]
    return run_result(trainer, trained, history, metrics)

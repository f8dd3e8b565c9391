"""Training nodes: validate the config, build the SFT examples, train stage 1, stage 2, then DPO.

The example tables stream: `build_sft_examples` returns generators of batches that the catalog's
StreamingParquetDataset writes one at a time, and each stage tokenizes its (lazily scanned) examples
once, in parallel, into a memory-mapped dataset under work_dir/tokenized that the trainer ranks share.
The DPO stage streams the three columns TRL reads from the preference pairs into a parquet file
under work_dir/preferences, which every rank memory-maps through `datasets`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import polars as pl

from ocr2_kedro.components import check_components
from ocr2_kedro.models import resolve_model_path
from ocr2_kedro.schemas import stable_id
from ocr2_kedro.training import (
    EXAMPLE_SCHEMA,
    DistributedSettings,
    DPOSettings,
    ExampleFilters,
    TokenizedData,
    TrainerSettings,
    build_examples,
    check_deepspeed_against_trainer,
    launch_stage,
    load_deepspeed_config,
    tokenize_to_disk,
    validate_deepspeed_config,
)

logger = logging.getLogger(__name__)

__all__ = ["EXAMPLE_SCHEMA", "build_sft_examples", "train_dpo", "train_stage1", "train_stage2"]

CHECKPOINT_LOGGING = ("auto", "artifact", "reference", "none")
# Written into a stage's working folder once it has finished: a rerun with the same fingerprint
# (base model, settings, tokenized data) reuses the model instead of training again.
FINISHED_MARKER = "finished.json"
# Under work_dir: one folder per tokenized example set (tokenizer, max_length, content).
TOKENIZED_DIR = "tokenized"
# Skipped examples named one by one in the log; all of them are in the MLflow artifact.
LOGGED_SKIPS = 20
# The stage lists a run may train; the last one's checkpoint is the run's final model.
STAGE_LISTS = (
    ["stage1"],
    ["stage1", "stage2"],
    ["stage1", "dpo"],
    ["stage1", "stage2", "dpo"],
)
# Under work_dir: the pairs' prompt/chosen/rejected columns, one folder per content hash.
PREFERENCES_DIR = "preferences"
PAIR_COLUMNS = ("prompt", "chosen", "rejected")


def validate_training_config(training: dict[str, Any]) -> dict[str, Any]:
    """Check every training setting (DeepSpeed config included) before any example is built.

    Returns the resolved plan the training nodes run with.
    """
    # flash-attn for flash_attention_2, DeepSpeed for its launcher: missing ones fail here, with
    # what to install, not at model load after the examples are built.
    check_components(training, "training")
    common = TrainerSettings.from_dict(training.get("trainer"))
    stages = {
        stage: common.merged((training.get(stage) or {}).get("trainer"))
        for stage in ("stage1", "stage2", "dpo")
    }
    dpo_section = dict(training.get("dpo") or {})
    dpo_section.pop("trainer", None)
    dpo = DPOSettings.from_dict(dpo_section)
    distributed = DistributedSettings.from_dict(training.get("distributed"))
    if distributed.deepspeed_config:
        config = validate_deepspeed_config(
            load_deepspeed_config(distributed.deepspeed_config), distributed.deepspeed_config
        )
        for settings in stages.values():
            check_deepspeed_against_trainer(config, settings, distributed.deepspeed_config)
    elif distributed.launcher == "deepspeed":
        raise ValueError("launcher deepspeed needs distributed.deepspeed_config")
    ExampleFilters.from_dict(training.get("filters"))  # raises on unknown filter names
    logging_mode = (training.get("mlflow") or {}).get("log_checkpoint", "auto")
    if logging_mode not in CHECKPOINT_LOGGING:
        raise ValueError(f"mlflow.log_checkpoint must be one of {CHECKPOINT_LOGGING}")
    stages_to_train = list(training.get("stages") or ["stage1", "stage2"])
    if stages_to_train not in STAGE_LISTS:
        raise ValueError(
            f"stages must be one of {[list(s) for s in STAGE_LISTS]} (stage 1, optionally stage "
            f"2, optionally DPO last), got {stages_to_train}"
        )
    tokenize = {"num_proc": None, "batch_size": 64, **(training.get("tokenize") or {})}
    unknown = set(tokenize) - {"num_proc", "batch_size"}
    if unknown:
        raise ValueError(f"unknown tokenize settings: {sorted(unknown)}")
    if tokenize["num_proc"] is not None and int(tokenize["num_proc"]) < 1:
        raise ValueError(f"tokenize.num_proc must be null or >= 1, got {tokenize['num_proc']}")
    if int(tokenize["batch_size"]) < 1:
        raise ValueError(f"tokenize.batch_size must be >= 1, got {tokenize['batch_size']}")
    critique_ratio = (training.get("stage2") or {}).get("critique_ratio")
    if critique_ratio is not None and critique_ratio < 0:
        raise ValueError(f"stage2.critique_ratio must be null or >= 0, got {critique_ratio}")
    return {
        "student": resolve_model_path(str(training["student"])),
        "system_prompt": training.get("system_prompt"),
        "work_dir": str(training["work_dir"]),
        "seed": int(training.get("seed", 0)),
        "filters": training.get("filters") or {},
        "critique_ratio": critique_ratio,
        "tokenize": tokenize,
        "stages": stages_to_train,
        "stage1": stages["stage1"].to_dict(),
        "stage2": stages["stage2"].to_dict(),
        "dpo": stages["dpo"].to_dict(),
        "dpo_settings": dpo.to_dict(),
        "distributed": training.get("distributed") or {},
        "keep_trainer_checkpoints": bool(training.get("keep_trainer_checkpoints", False)),
        "mlflow": {
            "log_checkpoint": logging_mode,
            "max_artifact_mb": float((training.get("mlflow") or {}).get("max_artifact_mb", 200)),
        },
    }


def build_sft_examples(
    export: pl.LazyFrame | pl.DataFrame, plan: dict[str, Any]
) -> tuple[Iterator[pl.DataFrame], Iterator[pl.DataFrame], Iterator[pl.DataFrame]]:
    """Stage-1 examples, stage-2 examples (stage 1 + critiques at the configured ratio), rejects.

    Each is a generator of batches, read from the export as the catalog saves it.
    """
    batches = build_examples(
        export,
        ExampleFilters.from_dict(plan["filters"]),
        plan["system_prompt"],
        plan["critique_ratio"],
        seed=plan["seed"],
    )
    return batches.stage1, batches.stage2, batches.rejects


def _report_skipped(stage: str, tokenized: TokenizedData) -> None:
    """Examples left out at tokenization: counted in the stage's metrics, named in the log, and listed
    whole in an MLflow artifact."""
    if not tokenized.skipped:
        return
    for item in tokenized.skipped_examples(limit=LOGGED_SKIPS):
        logger.warning(
            "%s: example %s (%s) skipped: %s", stage, item["id"], item["kind"], item["reason"]
        )
    logger.warning(
        "%s: %d examples skipped at tokenization (listed in %s)",
        stage,
        tokenized.skipped,
        tokenized.skipped_path,
    )
    if mlflow.active_run() is not None:
        mlflow.log_artifact(tokenized.skipped_path, artifact_path=f"training/{stage}_skipped")


def tokenize_stage(
    stage: str, examples: pl.LazyFrame | pl.DataFrame, base_model: str, plan: dict[str, Any]
) -> TokenizedData:
    """The stage's examples tokenized once (or reused) under work_dir/tokenized, with the plan's
    tokenizer processes and the stage's max_length (the data half of a stage; benchmarks/scale.py
    measures it alone)."""
    tokenize = plan.get("tokenize") or {}
    return tokenize_to_disk(
        examples,
        base_model,
        Path(plan["work_dir"]) / TOKENIZED_DIR,
        TrainerSettings.from_dict(plan[stage]).max_length,
        num_proc=tokenize.get("num_proc"),
        batch_size=int(tokenize.get("batch_size") or 64),
    )


def _train_stage(
    stage: str, examples: pl.LazyFrame | pl.DataFrame, base_model: str, plan: dict[str, Any]
) -> tuple[str, dict[str, dict[str, float]]]:
    settings = TrainerSettings.from_dict(plan[stage])
    tokenized = tokenize_stage(stage, examples, base_model, plan)
    _report_skipped(stage, tokenized)
    data_metrics = {
        "skipped_examples": float(tokenized.skipped),
        "critique_examples": float(tokenized.critique_examples),
        "tokenization_reused": float(tokenized.reused),
        # Examples whose tokens came from an earlier stage's tokenization (stage 2: stage 1's).
        "tokenized_examples_lent": float(tokenized.lent_rows),
    }
    return _run_stage(
        stage, base_model, tokenized.path, tokenized.fingerprint, settings, plan, data_metrics
    )


def _run_stage(
    stage: str,
    base_model: str,
    data_path: str,
    data_fingerprint: str,
    settings: TrainerSettings,
    plan: dict[str, Any],
    data_metrics: dict[str, float],
    dpo: DPOSettings | None = None,
) -> tuple[str, dict[str, dict[str, float]]]:
    """Train a stage (SFT, or DPO with `dpo`) on prepared data, or reuse the same stage's model when
    it has finished before; log its checkpoint to MLflow. Returns (final dir, metrics)."""
    distributed = DistributedSettings.from_dict(plan["distributed"])
    # One working folder per (base model, settings, data): an interrupted run of the same stage
    # resumes from its last checkpoint, a changed run starts clean.
    parts = [base_model, settings.to_dict(), data_fingerprint, plan["distributed"]]
    if dpo is not None:  # min_pairs is a check, not a training setting
        parts.append({k: v for k, v in dpo.to_dict().items() if k != "min_pairs"})
    fingerprint = stable_id(*parts)
    output_dir = Path(plan["work_dir"]) / f"{stage}-{fingerprint}"
    finished = output_dir / FINISHED_MARKER
    if finished.is_file():
        # The same stage on the same data and settings has finished before (e.g. a rerun of an
        # interrupted sweep): its model is reused, not trained again.
        done = json.loads(finished.read_text())
        if (Path(done["final_dir"]) / "config.json").is_file():
            logger.info("%s: finished before in %s, reused", stage, output_dir)
            metrics = {**done["metrics"], "reused": 1.0}
            return done["final_dir"], {k: {"value": v, "step": 0} for k, v in metrics.items()}
    result = launch_stage(base_model, data_path, output_dir, settings, distributed, stage, dpo=dpo)
    if not plan["keep_trainer_checkpoints"]:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint)
    metrics = {
        **result.metrics,
        "global_step": float(result.global_step),
        "resumed": float(result.resumed_from is not None),
        **data_metrics,
    }
    _log_checkpoint(stage, Path(result.final_dir), plan["mlflow"])
    finished.write_text(json.dumps({"final_dir": str(result.final_dir), "metrics": metrics}))
    return result.final_dir, {name: {"value": value, "step": 0} for name, value in metrics.items()}


def _directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _log_checkpoint(stage: str, final_dir: Path, settings: dict[str, Any]) -> None:
    """The final checkpoint into MLflow: as artifacts when small enough, else by reference."""
    mode = settings["log_checkpoint"]
    if mlflow.active_run() is None or mode == "none":
        return
    size_mb = _directory_mb(final_dir)
    if mode == "auto":
        mode = "artifact" if size_mb <= settings["max_artifact_mb"] else "reference"
    reference = {"stage": stage, "path": str(final_dir.resolve()), "size_mb": round(size_mb, 1)}
    mlflow.set_tag(f"{stage}.checkpoint", mode)
    if mode == "artifact":
        mlflow.log_artifacts(str(final_dir), artifact_path=f"checkpoints/{stage}")
    else:
        # The versioned copy in the catalog is named by the data.written.* tag of this run.
        mlflow.log_dict(reference, f"checkpoints/{stage}_reference.json")
        mlflow.set_tag(f"{stage}.checkpoint_path", reference["path"])


def train_stage1(
    examples: pl.LazyFrame | pl.DataFrame, plan: dict[str, Any]
) -> tuple[str, dict[str, dict[str, float]]]:
    """Code-generation SFT of the student."""
    return _train_stage("stage1", examples, plan["student"], plan)


def train_stage2(
    examples: pl.LazyFrame | pl.DataFrame, stage1_checkpoint: str | None, plan: dict[str, Any]
) -> tuple[str, dict[str, dict[str, float]]]:
    """Joint generation + critique SFT, starting from the stage-1 checkpoint (or, when the plan's
    stages stop at stage 1, the stage-1 checkpoint itself)."""
    if stage1_checkpoint is None:
        raise FileNotFoundError(
            "stage 2 starts from the stage-1 checkpoint and there is none yet: run the whole "
            "training pipeline (`kedro run --pipelines training`)"
        )
    if "stage2" not in plan.get("stages", ["stage1", "stage2"]):
        # Stage 1 only (an ablation): the final checkpoint is the stage-1 one.
        logger.info("stage 2 not trained (stages: %s): final checkpoint = stage 1", plan["stages"])
        return stage1_checkpoint, {"trained": {"value": 0.0, "step": 0}}
    return _train_stage("stage2", examples, stage1_checkpoint, plan)


def _pairs_file(pairs: pl.LazyFrame, work_dir: Path) -> tuple[Path, str]:
    """The pairs' prompt/chosen/rejected columns streamed into work_dir/preferences/<hash>/ as
    parquet (the pairs table's other columns stay behind), and the content hash. The same pairs
    land in the same folder, so a rerun reuses it and the Arrow cache `datasets` builds beside it."""
    folder = work_dir / PREFERENCES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "pairs.parquet.partial"
    pairs.select(PAIR_COLUMNS).sink_parquet(partial, engine="streaming")
    digest = hashlib.sha256()
    with partial.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    fingerprint = digest.hexdigest()[:16]
    target = folder / fingerprint / "pairs.parquet"
    if target.is_file():
        partial.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(target)
    return target, fingerprint


def _pair_counts(pairs: pl.LazyFrame) -> dict[str, float]:
    """How many pairs, and per `pair_source` (execution / critique) when the table has it; from the
    narrow columns only."""
    names = pairs.collect_schema().names()
    counts = {"pairs_in_table": float(pairs.select(pl.len()).collect().item())}
    if "pair_source" in names:
        by_source = pairs.group_by("pair_source").agg(pl.len()).collect()
        for source, count in by_source.iter_rows():
            counts[f"pairs_{source or 'unknown'}"] = float(count)
    return counts


def train_dpo(
    pairs: pl.LazyFrame | pl.DataFrame, sft_checkpoint: str | None, plan: dict[str, Any]
) -> tuple[str, dict[str, dict[str, float]]]:
    """Preference optimization (TRL's DPOTrainer) of the final SFT checkpoint on the preference
    pairs; when the plan's stages have no `dpo`, the SFT checkpoint itself is the final model.

    Too few pairs (< dpo.min_pairs) is an error raised before any model is loaded."""
    if sft_checkpoint is None:
        raise FileNotFoundError(
            "DPO starts from the final SFT checkpoint and there is none yet: run the whole "
            "training pipeline (`kedro run --pipelines training`)"
        )
    if "dpo" not in plan.get("stages", []):
        logger.info("DPO not trained (stages: %s): final checkpoint = SFT", plan["stages"])
        return sft_checkpoint, {"trained": {"value": 0.0, "step": 0}}
    dpo = DPOSettings.from_dict(plan["dpo_settings"])
    pairs = pairs.lazy()
    missing = set(PAIR_COLUMNS) - set(pairs.collect_schema().names())
    if missing:
        raise ValueError(
            f"preference_pairs lacks the columns {sorted(missing)}: rebuild it with the dataset "
            "pipeline (`kedro run --pipelines dataset`)"
        )
    counts = _pair_counts(pairs)
    if counts["pairs_in_table"] < dpo.min_pairs:
        raise ValueError(
            f"DPO needs at least training.dpo.min_pairs={dpo.min_pairs} preference pairs and "
            f"preference_pairs holds {int(counts['pairs_in_table'])} (why each question yielded "
            "none is in preference_rejects). Get more: more samples per question "
            "(generation.samples_per_question), so that questions have both passing and failing "
            "solutions; critique-only pairs (dataset.preferences.critique_pairs: true); no cap "
            "(dataset.preferences.mode: all, max_pairs_per_question: null). Or train without "
            "DPO: training.stages without dpo."
        )
    settings = TrainerSettings.from_dict(plan["dpo"])
    path, fingerprint = _pairs_file(pairs, Path(plan["work_dir"]))
    return _run_stage("dpo", sft_checkpoint, str(path), fingerprint, settings, plan, counts, dpo)

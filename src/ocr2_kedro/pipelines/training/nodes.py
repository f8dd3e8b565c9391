"""Training nodes: build the SFT examples, train stage 1, stage 2, then DPO, with the run's
validated `TrainingSettings` (an ablation variant's own, merged over the run's, under the
variant's namespace).

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

import mlflow
import polars as pl

from ocr2_kedro.models import resolve_model_path
from ocr2_kedro.parameters.training import TrainingSettings
from ocr2_kedro.preferences import too_few_pairs
from ocr2_kedro.preferences.pairs import CRITIQUE, EXECUTION
from ocr2_kedro.schemas import stable_id
from ocr2_kedro.tracking import MlflowRun
from ocr2_kedro.training import (
    EXAMPLE_SCHEMA,
    DPOSettings,
    TokenizedData,
    build_examples,
    launch_stage,
    tokenize_to_disk,
)

logger = logging.getLogger(__name__)

__all__ = [
    "EXAMPLE_SCHEMA",
    "build_sft_examples",
    "check_preference_pairs",
    "train_dpo",
    "train_stage1",
    "train_stage2",
]

# Written into a stage's working folder once it has finished: a rerun with the same fingerprint
# (base model, settings, tokenized data) reuses the model instead of training again.
FINISHED_MARKER = "finished.json"
# Under work_dir: one folder per tokenized example set (tokenizer, max_length, content).
TOKENIZED_DIR = "tokenized"
# Skipped examples named one by one in the log; all of them are in the MLflow artifact.
LOGGED_SKIPS = 20
# Under work_dir: the pairs' prompt/chosen/rejected columns, one folder per content hash.
PREFERENCES_DIR = "preferences"
PAIR_COLUMNS = ("prompt", "chosen", "rejected")


def build_sft_examples(
    export: pl.LazyFrame | pl.DataFrame, settings: TrainingSettings
) -> tuple[Iterator[pl.DataFrame], Iterator[pl.DataFrame], Iterator[pl.DataFrame]]:
    """Stage-1 examples, stage-2 examples (stage 1 + critiques at the configured ratio), rejects.

    Each is a generator of batches, read from the export as the catalog saves it.
    """
    batches = build_examples(
        export,
        settings.example_filters(),
        settings.system_prompt,
        settings.stage2.critique_ratio,
        seed=settings.seed,
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
    stage: str,
    examples: pl.LazyFrame | pl.DataFrame,
    base_model: str,
    settings: TrainingSettings,
) -> TokenizedData:
    """The stage's examples tokenized once (or reused) under work_dir/tokenized, with the
    configured tokenizer processes and the stage's max_length (the data half of a stage;
    benchmarks/scale.py measures it alone)."""
    return tokenize_to_disk(
        examples,
        base_model,
        Path(settings.work_dir) / TOKENIZED_DIR,
        settings.trainer_fields(stage).max_length,
        num_proc=settings.tokenize.num_proc,
        batch_size=settings.tokenize.batch_size,
    )


def _train_stage(
    stage: str,
    examples: pl.LazyFrame | pl.DataFrame,
    base_model: str,
    settings: TrainingSettings,
) -> tuple[str, dict[str, dict[str, float]]]:
    tokenized = tokenize_stage(stage, examples, base_model, settings)
    _report_skipped(stage, tokenized)
    data_metrics = {
        "skipped_examples": float(tokenized.skipped),
        "critique_examples": float(tokenized.critique_examples),
        "tokenization_reused": float(tokenized.reused),
        # Examples whose tokens came from an earlier stage's tokenization (stage 2: stage 1's).
        "tokenized_examples_lent": float(tokenized.lent_rows),
    }
    return _run_stage(
        stage, base_model, tokenized.path, tokenized.fingerprint, settings, data_metrics
    )


def _run_stage(
    stage: str,
    base_model: str,
    data_path: str,
    data_fingerprint: str,
    settings: TrainingSettings,
    data_metrics: dict[str, float],
    dpo: DPOSettings | None = None,
) -> tuple[str, dict[str, dict[str, float]]]:
    """Train a stage (SFT, or DPO with `dpo`) on prepared data, or reuse the same stage's model when
    it has finished before; log its checkpoint to MLflow. Returns (final dir, metrics)."""
    trainer = settings.trainer_for(stage)
    # One working folder per (base model, settings, data): an interrupted run of the same stage
    # resumes from its last checkpoint, a changed run starts clean.
    parts = [base_model, trainer.to_dict(), data_fingerprint, settings.distributed.as_dict()]
    if dpo is not None:  # min_pairs is a check, not a training setting
        parts.append({k: v for k, v in dpo.to_dict().items() if k != "min_pairs"})
    fingerprint = stable_id(*parts)
    output_dir = Path(settings.work_dir) / f"{stage}-{fingerprint}"
    finished = output_dir / FINISHED_MARKER
    if finished.is_file():
        # The same stage on the same data and settings has finished before (e.g. a rerun of an
        # interrupted sweep): its model is reused, not trained again.
        done = json.loads(finished.read_text())
        if (Path(done["final_dir"]) / "config.json").is_file():
            logger.info("%s: finished before in %s, reused", stage, output_dir)
            metrics = {**done["metrics"], "trained": 1.0, "reused": 1.0}
            return done["final_dir"], {k: {"value": v, "step": 0} for k, v in metrics.items()}
    result = launch_stage(
        base_model,
        data_path,
        output_dir,
        trainer,
        settings.distributed_settings(),
        stage,
        dpo=dpo,
        run=MlflowRun.active(),
    )
    if not settings.keep_trainer_checkpoints:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint)
    metrics = {
        **result.metrics,
        # 1 here, 0 from a stage the settings leave out: every run logs whether the stage trained.
        "trained": 1.0,
        "global_step": float(result.global_step),
        "resumed": float(result.resumed_from is not None),
        **data_metrics,
    }
    _log_checkpoint(stage, Path(result.final_dir), settings)
    finished.write_text(json.dumps({"final_dir": str(result.final_dir), "metrics": metrics}))
    return result.final_dir, {name: {"value": value, "step": 0} for name, value in metrics.items()}


def _directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _log_checkpoint(stage: str, final_dir: Path, settings: TrainingSettings) -> None:
    """The final checkpoint into MLflow: as artifacts when small enough, else by reference."""
    mode = settings.mlflow.log_checkpoint
    if mlflow.active_run() is None or mode == "none":
        return
    size_mb = _directory_mb(final_dir)
    if mode == "auto":
        mode = "artifact" if size_mb <= settings.mlflow.max_artifact_mb else "reference"
    reference = {"stage": stage, "path": str(final_dir.resolve()), "size_mb": round(size_mb, 1)}
    mlflow.set_tag(f"{stage}.checkpoint", mode)
    if mode == "artifact":
        mlflow.log_artifacts(str(final_dir), artifact_path=f"checkpoints/{stage}")
    else:
        # The versioned copy in the catalog is named by the data.written.* tag of this run.
        mlflow.log_dict(reference, f"checkpoints/{stage}_reference.json")
        mlflow.set_tag(f"{stage}.checkpoint_path", reference["path"])


def train_stage1(
    examples: pl.LazyFrame | pl.DataFrame, settings: TrainingSettings
) -> tuple[str, dict[str, dict[str, float]]]:
    """Code-generation SFT of the student."""
    return _train_stage("stage1", examples, resolve_model_path(settings.student), settings)


def train_stage2(
    examples: pl.LazyFrame | pl.DataFrame,
    stage1_checkpoint: str | None,
    settings: TrainingSettings,
) -> tuple[str, dict[str, dict[str, float]]]:
    """Joint generation + critique SFT, starting from the stage-1 checkpoint (or, when the settings'
    stages stop at stage 1, the stage-1 checkpoint itself)."""
    if stage1_checkpoint is None:
        raise FileNotFoundError(
            "stage 2 starts from the stage-1 checkpoint and there is none yet: run the whole "
            "training pipeline (`kedro run --pipelines training`)"
        )
    if "stage2" not in settings.stages:
        # Stage 1 only (an ablation): the final checkpoint is the stage-1 one.
        logger.info("stage 2 not trained (stages: %s): final checkpoint = stage 1", settings.stages)
        return stage1_checkpoint, {"trained": {"value": 0.0, "step": 0}}
    return _train_stage("stage2", examples, stage1_checkpoint, settings)


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
    """How many pairs, and per `pair_source` (execution / critique) when the table has it, 0 for a
    source without pairs (every run logs both, so runs line up); from the narrow columns only."""
    names = pairs.collect_schema().names()
    counts = {"pairs_in_table": float(pairs.select(pl.len()).collect().item())}
    if "pair_source" in names:
        counts |= {f"pairs_{source}": 0.0 for source in (EXECUTION, CRITIQUE)}
        by_source = pairs.group_by("pair_source").agg(pl.len()).collect()
        for source, count in by_source.iter_rows():
            counts[f"pairs_{source or 'unknown'}"] = float(count)
    return counts


def check_preference_pairs(
    export: pl.LazyFrame | pl.DataFrame,
    pairs: pl.LazyFrame | pl.DataFrame,
    settings: TrainingSettings,
) -> pl.LazyFrame | pl.DataFrame:
    """The export, passed on unchanged once the pairs a DPO stage will train on are known to be
    enough. The training template's first node reads it, so a run that makes its own pairs (the
    whole chain) stops right after making too few, before any model loads; pairs read from disk
    are counted at start-up (`ocr2_kedro.preflight`). Without dpo in the stages, nothing to check."""
    if "dpo" in settings.stages:
        count = int(pairs.lazy().select(pl.len()).collect().item())
        problem = too_few_pairs(count, settings.dpo_settings().min_pairs)
        if problem:
            raise ValueError(problem)
    return export


def train_dpo(
    pairs: pl.LazyFrame | pl.DataFrame, sft_checkpoint: str | None, settings: TrainingSettings
) -> tuple[str, dict[str, dict[str, float]]]:
    """Preference optimization (TRL's DPOTrainer) of the final SFT checkpoint on the preference
    pairs; when the settings' stages have no `dpo`, the SFT checkpoint itself is the final model.

    Too few pairs (< dpo.min_pairs) is an error raised before any model is loaded (and, in a
    pipeline, already before the first training node: `check_preference_pairs`)."""
    if sft_checkpoint is None:
        raise FileNotFoundError(
            "DPO starts from the final SFT checkpoint and there is none yet: run the whole "
            "training pipeline (`kedro run --pipelines training`)"
        )
    if "dpo" not in settings.stages:
        logger.info("DPO not trained (stages: %s): final checkpoint = SFT", settings.stages)
        return sft_checkpoint, {"trained": {"value": 0.0, "step": 0}}
    dpo = settings.dpo_settings()
    pairs = pairs.lazy()
    missing = set(PAIR_COLUMNS) - set(pairs.collect_schema().names())
    if missing:
        raise ValueError(
            f"preference_pairs lacks the columns {sorted(missing)}: rebuild it with the dataset "
            "pipeline (`kedro run --pipelines dataset`)"
        )
    counts = _pair_counts(pairs)
    # The last line of defence: the start-up check and check_preference_pairs count them first.
    problem = too_few_pairs(int(counts["pairs_in_table"]), dpo.min_pairs)
    if problem:
        raise ValueError(problem)
    path, fingerprint = _pairs_file(pairs, Path(settings.work_dir))
    return _run_stage("dpo", sft_checkpoint, str(path), fingerprint, settings, counts, dpo)

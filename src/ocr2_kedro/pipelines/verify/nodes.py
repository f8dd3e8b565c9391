"""Verify nodes: run each generated solution against its question's unit tests in the sandbox.

Bounded memory: the generations are read lazily, only the columns the sandbox needs, in batches of
`batch_rows`; each batch is verified and handed to the writer (a streaming dataset) before the next
one is read, so neither the generations nor the verifications are ever held whole.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

import mlflow
import polars as pl

from ocr2_kedro.execution import VerifyPool, settings_from
from ocr2_kedro.execution.batch import PROBLEM_COLUMNS
from ocr2_kedro.execution.compare import COMPARE_MODES
from ocr2_kedro.schemas import VERIFICATION

log = logging.getLogger(__name__)

# What the sandbox reads of a generation (execution.batch joins the problem's tests to it).
GENERATION_COLUMNS = ("generation_id", "question_id", "language", "solution")
DEFAULT_BATCH_ROWS = 1_000


def verify_generations(
    generations: pl.LazyFrame | pl.DataFrame,
    problems: pl.LazyFrame | pl.DataFrame,
    params: dict,
) -> Iterator[pl.DataFrame]:
    """Judge every generation in the sandbox (parameters_verify.yml picks workers, limits, backend,
    batch_rows), batch by batch, in the generations' order. Returns a generator of verification
    batches (schemas.VERIFICATION) for a streaming dataset; the settings, the columns and the
    uniqueness of generation_id are checked here, before the first batch runs. The verdict shares
    and the mean pass rate are logged (and to MLflow) when the last batch is done."""
    settings = settings_from(params)
    compare_mode = settings.get("compare_mode", "tokens")
    if compare_mode not in COMPARE_MODES:
        raise ValueError(f"compare_mode must be one of {COMPARE_MODES}, not {compare_mode!r}")
    batch_rows = int(params.get("batch_rows") or DEFAULT_BATCH_ROWS)
    if batch_rows < 1:
        raise ValueError(f"verify.batch_rows must be at least 1, got {batch_rows}")
    lazy = generations.lazy()
    missing = [c for c in GENERATION_COLUMNS if c not in lazy.collect_schema()]
    if missing:
        raise ValueError(f"generations frame lacks columns {missing}")
    duplicated = (
        lazy.group_by("generation_id")
        .len()
        .filter(pl.col("len") > 1)
        .head(5)
        .collect(engine="streaming")
    )
    if duplicated.height:
        raise ValueError(f"duplicate generation_id values: {duplicated['generation_id'].to_list()}")
    problems = problems.lazy()
    wanted = ["question_id", *[c for c in PROBLEM_COLUMNS if c in problems.collect_schema()]]
    return _verify_batches(
        lazy.select(GENERATION_COLUMNS), problems.select(wanted), params, settings, batch_rows
    )


def _verify_batches(
    generations: pl.LazyFrame,
    problems: pl.LazyFrame,
    params: dict,
    settings: dict,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    tally = VerdictTally()
    produced = False
    # One pool for every batch: the sandboxes (or Ray actors) start once per run.
    with VerifyPool(
        int(params.get("workers", 1)),
        backend=params.get("backend", "local"),
        ray_address=params.get("ray_address"),
        ray_batch_size=int(params.get("ray_batch_size", 8)),
        progress=bool(params.get("progress", True)),
        **settings,
    ) as pool:
        for batch in generations.collect_batches(chunk_size=batch_rows, engine="streaming"):
            if batch.height == 0:
                continue
            # Only this batch's questions (with their tests) next to it.
            questions = problems.join(
                batch.lazy().select("question_id").unique(), on="question_id", how="semi"
            ).collect(engine="streaming")
            verified = pool.verify(batch, questions)
            tally.add(verified)
            produced = True
            yield verified
    if not produced:
        yield pl.DataFrame(schema=VERIFICATION)
    summary = tally.summary()
    log.info("verify: %s", summary)
    if mlflow.active_run() is not None and summary:
        mlflow.log_metrics(summary)


class VerdictTally:
    """Verdict counts and the pass-rate sum over batches, for the run's summary."""

    def __init__(self) -> None:
        self.verdicts: Counter[str] = Counter()
        self.rows = 0
        self.pass_rate_sum = 0.0
        self.pass_rates = 0

    def add(self, verifications: pl.DataFrame | pl.LazyFrame) -> None:
        lazy = verifications.lazy()
        counts = lazy.group_by("verdict").len().collect(engine="streaming")
        for verdict, count in counts.rows():
            self.rows += count
            if verdict is not None:
                self.verdicts[verdict] += count
        totals = lazy.select(
            pl.col("pass_rate").sum().alias("sum"), pl.col("pass_rate").count().alias("n")
        ).collect(engine="streaming")
        self.pass_rate_sum += float(totals["sum"][0] or 0.0)
        self.pass_rates += int(totals["n"][0])

    def summary(self) -> dict[str, float]:
        if self.rows == 0:
            return {}
        summary = {
            f"verify_share_{verdict}": count / self.rows for verdict, count in self.verdicts.items()
        }
        summary["verify_mean_pass_rate"] = (
            self.pass_rate_sum / self.pass_rates if self.pass_rates else 0.0
        )
        return summary


def verdict_summary(verifications: pl.DataFrame | pl.LazyFrame) -> dict[str, float]:
    """Share of each verdict and the mean pass rate, for logging."""
    tally = VerdictTally()
    tally.add(verifications)
    return tally.summary()

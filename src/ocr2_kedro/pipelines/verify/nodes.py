"""Verify nodes: run each generated solution against its question's unit tests in the sandbox.

Bounded memory: the generations are read lazily, only the columns the sandbox needs, in batches of
`batch_rows`; each batch is verified and handed to the writer (a streaming dataset) before the next
one is read, so neither the generations nor the verifications are ever held whole.

Resumable: with `resume.shard_dir` set, each judged batch is also stored there at once
(`execution.resume`, keyed by the verdict settings and each row's solution and problem), so a run
that is killed or crashes part-way and is started again judges only the rows not stored yet.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterator

import polars as pl
from mlflow.entities import Metric

from ocr2_kedro.execution import VerifyPool
from ocr2_kedro.execution.batch import PROBLEM_COLUMNS
from ocr2_kedro.execution.resume import ROW_KEY, VerdictStore, row_keys, verdict_key
from ocr2_kedro.parameters.verify import VerifySettings
from ocr2_kedro.schemas import VERIFICATION
from ocr2_kedro.tracking import MlflowRun

log = logging.getLogger(__name__)

# What the sandbox reads of a generation (execution.batch joins the problem's tests to it).
GENERATION_COLUMNS = ("generation_id", "question_id", "language", "solution")


def verify_generations(
    generations: pl.LazyFrame | pl.DataFrame,
    problems: pl.LazyFrame | pl.DataFrame,
    settings: VerifySettings,
) -> Iterator[pl.DataFrame]:
    """Judge every generation in the sandbox (parameters_verify.yml picks workers, limits, backend,
    batch_rows), batch by batch, in the generations' order. Returns a generator of verification
    batches (schemas.VERIFICATION) for a streaming dataset; the columns and the uniqueness of
    generation_id are checked here, before the first batch runs. When the last batch
    is done, the verdict shares, the mean pass rate, how many rows were read back from stored
    batches and how many judged now, the rows whose tests `max_tests` cut, the share of rows
    per isolation layer and per way of judging (`judged_by`: text, JSON, the problem's checker, or
    unjudged: a problem that needs a checker and ships none, verdict null, left out of the verdict
    shares and the mean pass rate) are logged (and to MLflow). The problems' judging columns
    (checker, float_tolerance, grader_files, needs_checker) reach the sandbox with their tests."""
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
    # The node's run, taken now: the batches are judged while the streaming dataset saves them.
    run = MlflowRun.active()
    return _verify_batches(lazy.select(GENERATION_COLUMNS), problems.select(wanted), settings, run)


def _verify_batches(
    generations: pl.LazyFrame,
    problems: pl.LazyFrame,
    settings: VerifySettings,
    run: MlflowRun | None,
) -> Iterator[pl.DataFrame]:
    tally = VerdictTally()
    produced = False
    shard_dir = settings.resume.shard_dir
    store = (
        VerdictStore(f"{shard_dir}/{verdict_key(settings.judging_kwargs())}") if shard_dir else None
    )
    if store is not None:
        log.info("verify: judged batches are stored in %s (a rerun resumes)", store.directory)
    # One pool for every batch: the sandboxes (or Ray actors) start once per run, when the first
    # row needs judging (a run that finds every row stored starts none).
    with VerifyPool(**settings.verify_kwargs()) as pool:
        for index, batch in enumerate(
            generations.collect_batches(chunk_size=settings.batch_rows, engine="streaming")
        ):
            if batch.height == 0:
                continue
            # Only this batch's questions (with their tests) next to it.
            questions = problems.join(
                batch.lazy().select("question_id").unique(), on="question_id", how="semi"
            ).collect(engine="streaming")
            if store is None:
                verified, resumed = pool.verify(batch, questions), 0
            else:
                verified, resumed = _resume_batch(pool, store, index, batch, questions)
                log.info(
                    "verify: batch %d: %d rows read back, %d judged now",
                    index,
                    resumed,
                    batch.height - resumed,
                )
            tally.add(verified, resumed=resumed)
            produced = True
            yield verified
    if not produced:
        yield pl.DataFrame(schema=VERIFICATION)
    log.info(
        "verify: %d rows, %d read back from stored batches, %d judged in this run",
        tally.rows,
        tally.resumed,
        tally.rows - tally.resumed,
    )
    summary = tally.summary()
    log.info("verify: %s", summary)
    if run is not None and summary:
        timestamp = int(time.time() * 1000)
        run.client().log_batch(
            run.run_id, metrics=[Metric(k, float(v), timestamp, 0) for k, v in summary.items()]
        )


def _resume_batch(
    pool: VerifyPool,
    store: VerdictStore,
    index: int,
    batch: pl.DataFrame,
    questions: pl.DataFrame,
) -> tuple[pl.DataFrame, int]:
    """Batch `index` with its stored rows read back and only the others judged, in batch order;
    stored whole once judged. (rows, how many were read back)."""
    keyed = batch.with_columns(pl.Series(ROW_KEY, row_keys(batch, questions), dtype=pl.String))
    stored = store.read(index, keyed[ROW_KEY].to_list())
    pending = keyed.join(stored.select(ROW_KEY), on=ROW_KEY, how="anti", maintain_order="left")
    if pending.height == 0:
        rows = stored
    else:
        judged = pool.verify(pending.drop(ROW_KEY), questions)  # in pending's order
        rows = pl.concat([stored, judged.with_columns(pending[ROW_KEY])])
    ordered = keyed.select(ROW_KEY).join(rows, on=ROW_KEY, how="left", maintain_order="left")
    if pending.height:
        store.write(index, ordered)
    return ordered.select(VERIFICATION.names()), stored.height


class VerdictTally:
    """Verdict, truncation and isolation counts and the pass-rate sum over batches, and how many
    rows were read back from stored batches, for the run's summary."""

    def __init__(self) -> None:
        self.verdicts: Counter[str] = Counter()
        self.layers: Counter[str] = Counter()
        # How rows were judged (tokens, lines, json, checker; unjudged: needs a checker, has none).
        self.judged_by: Counter[str] = Counter()
        self.rows = 0
        self.resumed = 0
        self.truncated_rows = 0
        self.pass_rate_sum = 0.0
        self.pass_rates = 0

    def add(self, verifications: pl.DataFrame | pl.LazyFrame, resumed: int = 0) -> None:
        lazy = verifications.lazy()
        # Tables written before these columns existed count no truncation and no layers.
        present = lazy.collect_schema()
        for name, dtype in (
            ("tests_truncated", pl.Int64),
            ("isolation", pl.List(pl.String)),
            ("judged_by", pl.String),
        ):
            if name not in present:
                lazy = lazy.with_columns(pl.lit(None, dtype).alias(name))
        counts = lazy.group_by("verdict").len().collect(engine="streaming")
        for verdict, count in counts.rows():
            self.rows += count
            if verdict is not None:
                self.verdicts[verdict] += count
        totals = lazy.select(
            pl.col("pass_rate").sum().alias("sum"),
            pl.col("pass_rate").count().alias("n"),
            (pl.col("tests_truncated").fill_null(0) > 0).sum().alias("truncated"),
        ).collect(engine="streaming")
        self.pass_rate_sum += float(totals["sum"][0] or 0.0)
        self.pass_rates += int(totals["n"][0])
        self.truncated_rows += int(totals["truncated"][0] or 0)
        layers = (
            lazy.select(pl.col("isolation").list.unique().explode().drop_nulls())
            .group_by("isolation")
            .len()
            .collect(engine="streaming")
        )
        self.layers.update(dict(layers.rows()))
        judged_by = (
            lazy.select(pl.col("judged_by").drop_nulls())
            .group_by("judged_by")
            .len()
            .collect(engine="streaming")
        )
        self.judged_by.update(dict(judged_by.rows()))
        self.resumed += resumed

    def summary(self) -> dict[str, float]:
        if self.rows == 0:
            return {}
        summary = {
            f"verify_share_{verdict}": count / self.rows for verdict, count in self.verdicts.items()
        }
        summary["verify_mean_pass_rate"] = (
            self.pass_rate_sum / self.pass_rates if self.pass_rates else 0.0
        )
        summary["verify_rows"] = self.rows
        summary["verify_rows_resumed"] = self.resumed
        summary["verify_rows_judged"] = self.rows - self.resumed
        summary["verify_rows_tests_truncated"] = self.truncated_rows
        for layer, count in self.layers.items():
            summary[f"verify_rows_isolation_{metric_name(layer)}"] = count / self.rows
        for how, count in self.judged_by.items():
            summary[f"verify_share_judged_by_{metric_name(how)}"] = count / self.rows
        return summary


def metric_name(text: str) -> str:
    """`text` as a piece of an MLflow metric name (letters, digits, _ - . / only)."""
    return re.sub(r"[^\w\-./]", "_", text)


def verdict_summary(verifications: pl.DataFrame | pl.LazyFrame) -> dict[str, float]:
    """Share of each verdict and the mean pass rate, for logging."""
    tally = VerdictTally()
    tally.add(verifications)
    return tally.summary()

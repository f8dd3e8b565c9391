"""Verdicts kept on disk batch by batch, so that a killed or crashed verify run resumes: the rerun
reads back every row it already judged and runs only the rest, as generation resumes from shards.

Layout of `<shard_dir>/<verdict_key(settings)>/` (one directory per set of verdict settings):

    batch-<i>-<hash of its row keys>.parquet   batch i's schemas.VERIFICATION rows + `row_key`

A row's key fingerprints everything its verdict depends on besides those settings: the generation
id, language and solution, and its problem's tests, test type, function name, limits and judging
options (checker, tolerance, graders: `batch.PROBLEM_COLUMNS`; `row_keys`).
So a changed solution or problem is judged again, an unchanged one is read back wherever it was
stored (a new `batch_rows` reuses every row), and a different generations table reuses exactly the
rows it shares. A batch file is written atomically once its batch is judged; a file, like a shard,
is kept after the run (delete the directory to judge everything again).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from ocr2_kedro.schemas import VERIFICATION, run_key, stable_id
from ocr2_kedro.tables.files import is_stale_temporary, write_parquet_atomically

from .batch import DEFAULT_SETTINGS, PROBLEM_COLUMNS

ROW_KEY = "row_key"
# Bump when a change to the judging itself (comparison rules, verdict classification, what a row
# records) makes verdicts stored by earlier code stale.
# 2: checkers, problem float tolerances and graders (issue 24); rows carry judged_by and scores.
# 3: threads start with 8 MiB stacks (Python and C++): many-thread programs were RE.
VERDICT_RULES = 3
# The settings that can change a row: limits, comparison, which tests run, the isolation accepted.
# Left out: where and how fast (workers, backend, cache_dir, use_pch, sandbox_uids, batch_rows).
VERDICT_SETTINGS = (
    "compare_mode",
    "time_limit_s",
    "memory_limit_mb",
    "default_time_limit_s",
    "default_memory_limit_mb",
    "time_limit_factor",
    "max_tests",
    "stop_at_first_failure",
    "wall_factor",
    "allow_weak_isolation",
)
STORED_SCHEMA = pl.Schema({**VERIFICATION, ROW_KEY: pl.String})


def verdict_key(settings: Mapping) -> str:
    """The directory name for rows judged with `settings` (a setting left out counts as its
    default, so spelling out a default does not start over); the row layout is part of it."""
    effective = {**DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
    return run_key(
        "verify",
        VERDICT_RULES,
        {name: effective[name] for name in VERDICT_SETTINGS},
        {name: str(dtype) for name, dtype in VERIFICATION.items()},
    )


def row_keys(batch: pl.DataFrame, questions: pl.DataFrame) -> list[str]:
    """One key per row of `batch` (generation_id, question_id, language, solution), in order, from
    the row and its question in `questions` (the first row of each question_id, as the join
    takes it; a generation without a problem keys on that absence)."""
    problem_keys: dict[str, str] = {}
    columns = [c for c in PROBLEM_COLUMNS if c in questions.columns]
    for row in questions.select("question_id", *columns).iter_rows(named=True):
        if row["question_id"] not in problem_keys:
            problem_keys[row["question_id"]] = stable_id(*(row[c] for c in columns))
    return [
        stable_id(generation_id, language, solution, problem_keys.get(question_id))
        for generation_id, question_id, language, solution in batch.select(
            "generation_id", "question_id", "language", "solution"
        ).iter_rows()
    ]


def batch_name(index: int, keys: Sequence[str]) -> str:
    return f"batch-{index:06d}-{stable_id(*sorted(keys))}.parquet"


class VerdictStore:
    """The stored rows of one verdict key: read those of a batch, add a judged batch atomically."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for temporary in self.directory.glob(".tmp-*"):
            if is_stale_temporary(temporary):
                temporary.unlink(missing_ok=True)
        self._index: pl.DataFrame | None = None
        self._paths: list[str] = []

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("batch-*.parquet"))

    # Which file holds each stored key: built once, when a batch has no file of its own (a new
    # batch, or batches cut differently than before), from the files' key column alone.
    def _lookup(self) -> pl.DataFrame:
        if self._index is None:
            parts = [pl.DataFrame(schema={ROW_KEY: pl.String, "file": pl.UInt32})]
            for path in self.files():
                keys = pl.read_parquet(path, columns=[ROW_KEY])
                parts.append(keys.with_columns(file=pl.lit(len(self._paths), pl.UInt32)))
                self._paths.append(str(path))
            self._index = pl.concat(parts).unique(ROW_KEY, keep="last")
        return self._index

    def read(self, index: int, keys: Sequence[str]) -> pl.DataFrame:
        """The stored rows (STORED_SCHEMA) of those of `keys` that were judged, in no order; rows
        judged SE are left out, so a rerun judges them again (a sandbox fault may be gone)."""
        return self._read(index, keys).filter(pl.col("verdict").fill_null("") != "SE")

    def _read(self, index: int, keys: Sequence[str]) -> pl.DataFrame:
        own = self.directory / batch_name(index, keys)
        if own.exists():
            return pl.read_parquet(own).cast(STORED_SCHEMA)
        found = pl.DataFrame({ROW_KEY: list(keys)}).join(self._lookup(), on=ROW_KEY, how="inner")
        parts = [pl.DataFrame(schema=STORED_SCHEMA)]
        for (file,), part in found.group_by("file"):
            rows = pl.scan_parquet(self._paths[file]).filter(
                pl.col(ROW_KEY).is_in(part[ROW_KEY].implode())
            )
            parts.append(rows.collect().cast(STORED_SCHEMA))
        return pl.concat(parts).unique(ROW_KEY, keep="first")

    def write(self, index: int, rows: pl.DataFrame) -> Path:
        """Store batch `index`'s rows (STORED_SCHEMA, all of the batch) as its own file."""
        target = self.directory / batch_name(index, rows[ROW_KEY].to_list())
        return write_parquet_atomically(
            rows.select(STORED_SCHEMA.names()).cast(STORED_SCHEMA), target
        )

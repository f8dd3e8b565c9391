"""Polars schemas of the tables the pipelines exchange (the data contracts of design.md).

Every engine and node that builds one of these tables goes through `conform` so that column
names, order and dtypes are the same whichever backend or source produced the rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

import polars as pl

TEST_CASE = pl.Struct({"input": pl.String, "output": pl.String})

PROBLEM = pl.Schema(
    {
        "question_id": pl.String,
        "source": pl.String,
        "source_id": pl.String,
        "split": pl.String,
        "question": pl.String,
        "starter_code": pl.String,
        "test_type": pl.String,  # "stdin" | "functional"
        "fn_name": pl.String,
        "tests": pl.List(TEST_CASE),
        "time_limit_s": pl.Float64,
        "memory_limit_mb": pl.Int64,
        "difficulty": pl.String,
        "contest_date": pl.Date,
        "license": pl.String,
        # Judge platform ("leetcode" | "atcoder" | "codeforces") where the source names it; null
        # elsewhere. Evaluation reports per platform, as LiveCodeBench does.
        "platform": pl.String,
    }
)

GENERATION = pl.Schema(
    {
        "generation_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,  # "python" | "cpp"
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "model": pl.String,
        "prompt": pl.String,
        "output": pl.String,
        "reasoning": pl.String,
        "solution": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,
        "flags": pl.List(pl.String),
        # Mean per-token entropy (nats) of the teacher's output; null unless generation asked for
        # log-probabilities (generation.sampling.logprobs). Read by the patterns pipeline.
        "mean_token_entropy": pl.Float64,
    }
)

CRITIQUE = pl.Schema(
    {
        "generation_id": pl.String,
        "critic_model": pl.String,
        "critique": pl.String,
        "critique_reasoning": pl.String,
        "judgement": pl.String,  # "right" | "wrong" | null when unparseable
        # "critique": stated by the critique; "follow_up": asked for in a second turn; null: neither
        "judgement_source": pl.String,
    }
)

TEST_RESULT = pl.Struct({"verdict": pl.String, "time_s": pl.Float64})

VERIFICATION = pl.Schema(
    {
        "generation_id": pl.String,
        "verdict": pl.String,
        "passed": pl.Int64,
        "total": pl.Int64,
        "pass_rate": pl.Float64,
        "tests": pl.List(TEST_RESULT),
        "error": pl.String,
        "isolation": pl.List(pl.String),  # sandbox layers in force (execution engine)
    }
)

REJECT = pl.Schema(
    {
        "stage": pl.String,
        "source": pl.String,
        "record_id": pl.String,
        "reason": pl.String,
        "detail": pl.String,
    }
)

LANGUAGES = ("python", "cpp")
VERDICTS = ("AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "SE")
JUDGEMENTS = ("right", "wrong")


def conform(rows: Iterable[Mapping] | pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Build a frame with exactly `schema`'s columns, in order; missing columns become nulls.

    Raises a ValueError naming the columns whose values cannot be cast to the contract.
    """
    frame = (
        rows
        if isinstance(rows, pl.DataFrame)
        else pl.DataFrame(list(rows), infer_schema_length=None)
    )
    if frame.is_empty() and not frame.columns:
        return pl.DataFrame(schema=schema)
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            try:
                columns.append(frame[name].cast(dtype, strict=True).alias(name))
            except (pl.exceptions.InvalidOperationError, pl.exceptions.SchemaError) as error:
                raise ValueError(
                    f"column {name!r} does not fit the contract type {dtype}: {error}"
                ) from error
        else:
            columns.append(pl.Series(name, [None] * frame.height, dtype=dtype))
    return pl.DataFrame(columns, schema=schema)


def stable_id(*parts: object, length: int = 16) -> str:
    """A short, deterministic id from any JSON-serialisable parts (same parts -> same id on every machine)."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]

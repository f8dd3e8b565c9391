"""Ingestion nodes: raw sources -> one normalized `problems` table plus `rejects`."""

from __future__ import annotations

import json
import logging

import mlflow
import polars as pl

from ocr2_kedro.schemas import PROBLEM, REJECT, conform, stable_id

logger = logging.getLogger(__name__)


def _reject(source: str, record_id: str, reason: str, detail: str = "") -> dict:
    return {
        "stage": "ingestion",
        "source": source,
        "record_id": record_id,
        "reason": reason,
        "detail": detail,
    }


def log_reject_counts(source: str, kept: int, rejects: list[dict]) -> dict[str, float]:
    """Counts per source and reason, logged to MLflow when a run is active; returned for logging/tests."""
    metrics = {f"ingestion_{source}_problems": float(kept)}
    for reject in rejects:
        key = f"ingestion_{source}_rejected_{reject['reason']}"
        metrics[key] = metrics.get(key, 0.0) + 1.0
    for reason, count in sorted(metrics.items()):
        logger.info("%s = %d", reason, count)
    if mlflow.active_run() is not None:
        mlflow.log_metrics(metrics)
    return metrics


def normalize_bundled_problems(
    raw: pl.DataFrame, source: str = "bundled"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalize the bundled JSONL questions (benchmark pool -> split "test"); return (problems, rejects)."""
    rows, rejects, seen = [], [], set()
    for line_no, record in enumerate(raw.to_dicts(), start=1):
        record_id = str(record.get("source_id") or f"line-{line_no}")
        question = (record.get("question") or "").strip()
        tests = record.get("tests") or []
        if not question:
            rejects.append(_reject(source, record_id, "empty_statement"))
            continue
        if not tests:
            rejects.append(_reject(source, record_id, "no_tests"))
            continue
        if record_id in seen:
            rejects.append(_reject(source, record_id, "duplicate_id"))
            continue
        if record.get("test_type") == "functional":
            try:
                for test in tests:
                    json.loads(test["input"]), json.loads(test["output"])
            except (ValueError, KeyError, TypeError) as error:
                rejects.append(_reject(source, record_id, "unparseable_tests", str(error)))
                continue
        seen.add(record_id)
        rows.append(
            {
                "question_id": stable_id(source, record_id),
                "source": source,
                "source_id": record_id,
                "split": "test" if record.get("pool") == "benchmark" else "train",
                "question": question,
                "starter_code": record.get("starter_code") or "",
                "test_type": record.get("test_type", "stdin"),
                "fn_name": record.get("fn_name"),
                "tests": [{"input": t["input"], "output": t["output"]} for t in tests],
                "time_limit_s": float(record.get("time_limit_s") or 2.0),
                "memory_limit_mb": int(record.get("memory_limit_mb") or 256),
                "difficulty": record.get("difficulty"),
                "contest_date": record.get("contest_date"),
                "license": record.get("license", "Apache-2.0"),
            }
        )
    problems = conform(
        pl.DataFrame(rows).with_columns(pl.col("contest_date").str.to_date()), PROBLEM
    )
    logger.info("bundled: %d problems, %d rejected", problems.height, len(rejects))
    log_reject_counts(source, problems.height, rejects)
    return problems, conform(rejects, REJECT) if rejects else pl.DataFrame(schema=REJECT)


def split_benchmark_pool(problems: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Training pool (split != test) and held-out benchmark pool (split == test)."""
    return problems.filter(pl.col("split") != "test"), problems.filter(pl.col("split") == "test")

"""Ingestion nodes: raw sources in their native schemas -> one normalized `problems` table + `rejects`.

Every source is a catalog entry (`raw_<source>`, a lazy `RecordSource`) and a namespaced copy of one
template pipeline; a disabled source is never read. Every record read is accounted for: a row of the
PROBLEM contract or an `ingestion_rejects` row with its reason (an unreadable line included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import mlflow
import polars as pl
from tqdm.auto import tqdm

from ocr2_kedro.parameters.ingestion import BenchmarkPool, Ocr2Settings, SourceSettings
from ocr2_kedro.schemas import PROBLEM, REJECT, conform, reject, rejects_frame
from ocr2_kedro.sources import BadRecord, normalize_record
from ocr2_kedro.sources.normalize import grouped_records
from ocr2_kedro.sources.readers import RecordSource, UnreadableRecord

logger = logging.getLogger(__name__)


def log_reject_counts(source: str, kept: int, rejects: list[dict]) -> dict[str, float]:
    """Counts per source and reason, logged to MLflow when a run is active; returned for logging/tests."""
    metrics = {f"ingestion_{source}_problems": float(kept)}
    for row in rejects:
        key = f"ingestion_{source}_rejected_{row['reason']}"
        metrics[key] = metrics.get(key, 0.0) + 1.0
    for reason, count in sorted(metrics.items()):
        logger.info("%s = %d", reason, count)
    if mlflow.active_run() is not None:
        mlflow.log_metrics(metrics)
    return metrics


def judging_counts(problems: pl.DataFrame, prefix: str) -> dict[str, float]:
    """How the problems are judged beyond text (issue 24), as `<prefix>_<count>` metrics: with a
    checker (`with_checker`), flagged as accepting several answers (`needs_checker`), flagged and
    shipping no checker (`needs_checker_without_checker`: kept in `problems`, never judged by text:
    verification marks their samples "unjudged" and evaluation rejects them) and with a stated
    float tolerance (`with_float_tolerance`). Logged to MLflow when a run is active."""
    has_checker = pl.col("checker").is_not_null()
    needs = pl.col("needs_checker").fill_null(False)
    counts = problems.select(
        has_checker.sum().alias("with_checker"),
        needs.sum().alias("needs_checker"),
        (needs & ~has_checker).sum().alias("needs_checker_without_checker"),
        pl.col("float_tolerance").is_not_null().sum().alias("with_float_tolerance"),
    ).row(0, named=True)
    metrics = {f"{prefix}_{name}": float(count or 0) for name, count in counts.items()}
    if metrics[f"{prefix}_needs_checker_without_checker"]:
        logger.warning(
            "%s: %d problems accept several answers and ship no checker: kept, marked "
            "(needs_checker), never judged by text",
            prefix,
            metrics[f"{prefix}_needs_checker_without_checker"],
        )
    if mlflow.active_run() is not None:
        mlflow.log_metrics(metrics)
    return metrics


def _frames(
    source: str, rows: list[dict], rejects: list[dict]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = conform(rows, PROBLEM) if rows else pl.DataFrame(schema=PROBLEM)
    logger.info("%s: %d problems, %d rejected", source, problems.height, len(rejects))
    log_reject_counts(source, problems.height, rejects)
    judging_counts(problems, f"ingestion_{source}")
    return problems, rejects_frame(rejects)


def log_source_provenance(source: str, records: RecordSource) -> dict[str, str]:
    """Where a source was read from, as MLflow params (`ingestion_<source>_location`, `_revision`:
    the pinned hub revision or "unpinned") and, when the datasets library reported the commit the
    revision resolved to, the tag `ingestion.<source>.resolved_commit`. Returned for tests."""
    provenance = records.provenance()
    logged = {
        f"ingestion_{source}_location": str(provenance["location"]),
        f"ingestion_{source}_revision": provenance["revision"] or "unpinned",
    }
    tags = {}
    if provenance["resolved_commit"]:
        tags[f"ingestion.{source}.resolved_commit"] = provenance["resolved_commit"]
    logger.info("%s read from %s", source, {**logged, **tags})
    if mlflow.active_run() is not None:
        mlflow.log_params(logged)
        mlflow.set_tags(tags)
    return {**logged, **tags}


# A rejected record is named by where it is in its source: "<split>/<row index>"; an unreadable
# line's detail names its file and line.
def _normalize_all(
    records: Iterable[tuple[str, int, dict | UnreadableRecord]], kind: str, source: str
) -> tuple[list[dict], list[dict]]:
    rows, rejects, seen = [], [], {}
    for split, index, record in records:
        where = f"{split}/{index}"
        if isinstance(record, UnreadableRecord):
            row, refused = None, (record.reason, f"{record.where}: {record.error}")
        else:
            row, refused = normalize_record(kind, record, source, split, index)
        if row is not None and row["question_id"] in seen:
            again = f"id {row['source_id']}: the question of {seen[row['question_id']]} again"
            row, refused = None, ("duplicate_id", again)
        if row is None:
            reason, detail = refused
            rejects.append(
                reject(
                    stage="ingestion", source=source, record_id=where, reason=reason, detail=detail
                )
            )
        else:
            seen[row["question_id"]] = where
            rows.append(row)
    return rows, rejects


def _progress(records: Iterator, source: str, limit: int | None) -> Iterator:
    for count, item in enumerate(tqdm(records, desc=f"ingest {source}", unit=" rows", total=limit)):
        if limit is not None and count >= limit:
            return
        yield item


def normalize_source(
    records: RecordSource, source: SourceSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One source's native records -> (problems, rejects) (`ingestion.<source>.source`)."""
    name = source.name
    if not source.enabled:
        logger.info("source %s is disabled (parameters_ingestion.yml); not read", name)
        return pl.DataFrame(schema=PROBLEM), pl.DataFrame(schema=REJECT)
    logger.info("reading source %s from %s", name, records.describe())
    # A source that spreads a question over several records (IOI) is gathered first.
    native = grouped_records(source.kind, records.iter_records())
    rows, rejects = _normalize_all(_progress(native, name, source.limit), source.kind, name)
    log_source_provenance(name, records)
    return _frames(name, rows, rejects)


def _ocr2_reference(record: dict | UnreadableRecord, datasets: dict) -> tuple[str, str, int]:
    """(dataset, split, index) an OCR / OCR-2 row points at; a BadRecord when the row is unreadable
    or its reference is not one (an index that is not a row number, a split that is not a name)."""
    if isinstance(record, UnreadableRecord):
        raise BadRecord(record.reason, f"{record.where}: {record.error}")
    dataset = str(record.get("dataset"))[:200]
    if dataset not in datasets:
        raise BadRecord("unknown_dataset", dataset)
    split, index = record.get("split"), record.get("index")
    if not isinstance(split, str) or not split:
        raise BadRecord("bad_reference", f"split is a {type(split).__name__}, not a split name")
    if isinstance(index, str) and index.strip().isascii() and index.strip().isdigit():
        index = int(index.strip())
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BadRecord("bad_reference", f"index={repr(index)[:80]} is not a row number")
    return dataset, split, index


def resolve_ocr2_questions(
    ocr2: RecordSource, params: Ocr2Settings, **references: RecordSource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """OCR / OCR-2 export rows carry no question text, only (`dataset`, `split`, `index`) into the data
    set it came from: read those rows from the referenced sources and normalize them there.

    `params.datasets` maps the export's `dataset` values to a source name (a key of `references`,
    read with that source's normalizer: the reference sources' names are their kinds).
    """
    name = params.name
    if not params.enabled:
        logger.info("source %s is disabled (parameters_ingestion.yml); not read", name)
        return pl.DataFrame(schema=PROBLEM), pl.DataFrame(schema=REJECT)
    wanted: dict[str, set[tuple[str, int]]] = {}
    rejects: list[dict] = []
    for split, index, record in _progress(ocr2.iter_records(), name, params.limit):
        try:
            dataset, reference_split, reference_index = _ocr2_reference(record, params.datasets)
        except BadRecord as error:
            rejects.append(
                reject(
                    stage="ingestion",
                    source=name,
                    record_id=f"{split}/{index}",
                    reason=error.reason,
                    detail=error.detail,
                )
            )
            continue
        wanted.setdefault(dataset, set()).add((reference_split, reference_index))
    log_source_provenance(name, ocr2)
    rows = []
    for dataset, keys in wanted.items():
        source = params.datasets[dataset]
        found: set[tuple[str, int]] = set()
        resolved, source_rejects = _normalize_all(
            _referenced(references[source].iter_records(), keys, found), source, source
        )
        log_source_provenance(source, references[source])
        rows += resolved
        rejects += source_rejects
        rejects += [
            reject(
                stage="ingestion",
                source=name,
                record_id=f"{dataset}/{split}/{index}",
                reason="unresolved_question",
                detail=f"not in {source}",
            )
            for split, index in sorted(keys - found)
        ]
        logger.info(
            "%s: %d questions referenced in %s, %d resolved",
            name,
            len(keys),
            dataset,
            len(resolved),
        )
    return _frames(name, rows, rejects)


def _referenced(
    records: Iterator[tuple[str, int, dict]], keys: set[tuple[str, int]], found: set
) -> Iterator[tuple[str, int, dict]]:
    """The records whose (split, index) is in `keys`, noting each in `found`; stops once all are."""
    for split, index, record in records:
        if (split, index) in keys:
            found.add((split, index))
            yield split, index, record
            if len(found) == len(keys):
                return


def combine_problems(**problems: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All sources in one table (keyword: the reading path, e.g. `taco` or `ocr2`) and the rejects of
    the copies dropped because their `question_id` was already read.

    A question reached through two paths (TACO read directly and through the OCR-2 rebuild) is the
    same record with the same `question_id`; downstream tables are keyed on that id, so a second
    copy would make dedup remove both. The first path (in argument order) keeps it; each later copy
    becomes a `duplicate_question_id` reject naming that path. Textually equal questions with
    different ids stay: dedup decides those.
    """
    combined = pl.concat(
        [
            conform(frame, PROBLEM).with_columns(pl.lit(path, pl.String).alias("path"))
            for path, frame in problems.items()
        ]
    )
    first = pl.col("question_id").is_first_distinct()
    rejects = (
        combined.with_columns(kept_path=pl.col("path").first().over("question_id"))
        .filter(~first)
        .select(
            pl.lit("ingestion").alias("stage"),
            pl.col("path").alias("source"),
            pl.format("{}/{}/{}", "source", "split", "source_id").alias("record_id"),
            pl.lit("duplicate_question_id").alias("reason"),
            pl.format("question_id {} already read through {}", "question_id", "kept_path").alias(
                "detail"
            ),
        )
    )
    if rejects.height:
        logger.warning(
            "%d questions reached through a second source: the later copies are rejected "
            "(duplicate_question_id)",
            rejects.height,
        )
        if mlflow.active_run() is not None:
            mlflow.log_metric("ingestion_rejected_duplicate_question_id", float(rejects.height))
    kept = combined.filter(first).drop("path")
    judging_counts(kept, "ingestion")  # over every source, each question once
    return kept, conform(rejects, REJECT)


def combine_rejects(*rejects: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([conform(frame, REJECT) for frame in rejects])


def _pool_membership(pool: BenchmarkPool) -> tuple[pl.Expr, pl.Expr]:
    """(in this pool's source split, held out as a benchmark question) as never-null expressions."""
    matches = (pl.col("source") == pool.source) & (pl.col("split") == pool.split)
    if not pool.windowed:
        return matches, matches
    dated = pl.col("contest_date").is_not_null()
    if pool.from_ is not None:
        dated = dated & (pl.col("contest_date") >= pool.from_)
    if pool.to is not None:
        dated = dated & (pl.col("contest_date") < pool.to)
    if pool.undated == "hold_out":
        dated = dated | pl.col("contest_date").is_null()
    return matches, matches & dated


def split_benchmark_pool(
    problems: pl.DataFrame, pools: list[BenchmarkPool]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(training pool, held-out benchmark pool, rejects) (`ingestion.benchmark_pools`).

    Each pool's source split is held out; with a date window only questions dated inside it are the
    benchmark, and the rest of that split is used by neither (a reject with the reason, so the count
    is visible): `outside_benchmark_window`, or `undated_benchmark_question` for a question with no
    date under the default `undated: reject` (`undated: hold_out` keeps those as benchmark
    questions; see parameters.ingestion.UndatedRule).
    """
    in_pool = pl.lit(False)
    held_out = pl.lit(False)
    for pool in pools:
        matches, held = _pool_membership(pool)
        in_pool, held_out = in_pool | matches, held_out | held
    outside = problems.filter(in_pool & ~held_out)
    rejects = outside.select(
        pl.lit("ingestion").alias("stage"),
        "source",
        pl.col("source_id").alias("record_id"),
        pl.when(pl.col("contest_date").is_null())
        .then(pl.lit("undated_benchmark_question"))
        .otherwise(pl.lit("outside_benchmark_window"))
        .alias("reason"),
        pl.when(pl.col("contest_date").is_null())
        .then(pl.lit("no contest_date in a pool with a date window (undated: reject)"))
        .otherwise(pl.format("contest_date={}", pl.col("contest_date")))
        .alias("detail"),
    )
    return problems.filter(~in_pool), problems.filter(held_out), conform(rejects, REJECT)

"""Dedup nodes: exact and near-duplicate clusters, optional semantic pass, benchmark decontamination.

Thin adapters over `ocr2_kedro.dedup`; every removed question appears in an audit table with the
question it duplicates (or the benchmark question it leaks) and the score that decided it.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import polars as pl
from rapidfuzz import fuzz

from ocr2_kedro.dedup import connected_clusters, find_near_duplicate_pairs, normalize_text
from ocr2_kedro.dedup.contamination import find_contamination
from ocr2_kedro.parameters.dedup import DedupSettings, LlmJudgeSettings, SemanticSettings

logger = logging.getLogger(__name__)

DEDUP_AUDIT = pl.Schema(
    {
        "question_id": pl.String,
        "source": pl.String,
        "kept_question_id": pl.String,
        "kept_source": pl.String,
        "cluster_id": pl.Int64,
        "method": pl.String,  # "exact" | "near" | "semantic"
        "score": pl.Float64,  # fuzz.ratio to the kept twin (cosine for semantic)
        "removed": pl.Boolean,
        "llm_confirmed": pl.Boolean,
    }
)

CONTAMINATION_AUDIT = pl.Schema(
    {
        "question_id": pl.String,
        "source": pl.String,
        "benchmark_question_id": pl.String,
        "benchmark_source": pl.String,
        "benchmark_contest_date": pl.Date,
        "fuzz_ratio": pl.Float64,
        "ngram_coverage": pl.Float64,
        "reason": pl.String,
    }
)


def _log_metrics(metrics: dict[str, float]) -> None:
    if mlflow.active_run() is not None:
        mlflow.log_metrics(metrics)


def _require_unique_ids(problems: pl.DataFrame) -> None:
    """Removal is by `question_id`: two rows sharing one would both go with no audit row for the
    second. Ingestion rejects such copies (`duplicate_question_id`), so a repeat here is a table
    written some other way, refused instead of silently losing questions."""
    repeated = problems.filter(pl.col("question_id").is_duplicated())["question_id"].unique()
    if repeated.len():
        raise ValueError(
            f"problems has {repeated.len()} question_id(s) on more than one row "
            f"(e.g. {sorted(repeated.to_list())[:5]}); question ids must be unique per row. "
            "Re-run the ingestion pipeline, which rejects the later copy of a question read "
            "through two sources."
        )


def _priority_order(problems: pl.DataFrame, source_priority: list[str]) -> np.ndarray:
    """Row ranks: lower keeps (source priority first, then the source's own id, so the earlier
    question of one source is kept, then question_id for a stable tie-break)."""
    rank = {source: i for i, source in enumerate(source_priority)}
    keys = problems.select(
        pl.col("source")
        .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
        .alias("rank"),
        "source_id",
        "question_id",
    ).with_row_index("row")
    order = keys.sort("rank", "source_id", "question_id")["row"].to_numpy()
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def _semantic_pairs(texts: list[str], settings: SemanticSettings) -> tuple[np.ndarray, np.ndarray]:
    from ocr2_kedro.dedup.semantic import embed, similar_pairs

    return similar_pairs(embed(texts, batch_size=settings.batch_size), threshold=settings.threshold)


def _llm_confirm(
    texts: list[str], pairs: np.ndarray, settings: LlmJudgeSettings
) -> list[bool | None]:
    from ocr2_kedro.dedup.semantic import judge_pairs
    from ocr2_kedro.generation import create_backend

    with create_backend(settings.generation.backend_config()) as backend:
        return judge_pairs(
            backend, [(texts[i], texts[j]) for i, j in pairs], settings.sampling_config()
        )


def find_duplicate_clusters(problems: pl.DataFrame, params: DedupSettings) -> pl.DataFrame:
    """Audit of every question removed as an exact, near or semantic duplicate, with its kept twin."""
    _require_unique_ids(problems)
    if problems.is_empty():
        return pl.DataFrame(schema=DEDUP_AUDIT)
    texts = [normalize_text(text) for text in problems["question"].to_list()]
    n = len(texts)
    # Exact: identical normalized text.
    _, exact_group = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    order = np.argsort(exact_group, kind="stable")
    same = exact_group[order][1:] == exact_group[order][:-1]
    exact_pairs = np.stack((order[:-1][same], order[1:][same]), axis=1)
    near_pairs, _, candidates = find_near_duplicate_pairs(
        texts, params.near.thresholds(), normalized=True
    )
    edges = [exact_pairs, near_pairs]
    semantic = params.semantic
    judged = semantic.llm_judge.enabled
    semantic_pairs = np.empty((0, 2), dtype=np.int64)
    semantic_scores = np.empty(0)
    confirmed: list[bool | None] = []
    if semantic.enabled:
        semantic_pairs, semantic_scores = _semantic_pairs(problems["question"].to_list(), semantic)
        # Pairs already joined by text matching need no second opinion.
        text_clusters = connected_clusters(n, np.concatenate(edges))
        new = text_clusters[semantic_pairs[:, 0]] != text_clusters[semantic_pairs[:, 1]]
        semantic_pairs, semantic_scores = semantic_pairs[new], semantic_scores[new]
        if judged and len(semantic_pairs):
            confirmed = _llm_confirm(
                problems["question"].to_list(), semantic_pairs, semantic.llm_judge
            )
        else:
            confirmed = [None] * len(semantic_pairs)
        if semantic.remove:
            # Without a judge every flagged pair is removed; with one, only the confirmed ones.
            removable = [
                verdict is True if judged else verdict is not False for verdict in confirmed
            ]
            edges.append(
                semantic_pairs[np.asarray(removable, dtype=bool)]
                if len(semantic_pairs)
                else semantic_pairs
            )
    clusters = connected_clusters(n, np.concatenate(edges))
    ranks = _priority_order(problems, params.source_priority)
    keeper_of_cluster: dict[int, int] = {}
    for row in np.argsort(ranks):
        keeper_of_cluster.setdefault(int(clusters[row]), int(row))
    exact_rows = set(exact_pairs.ravel().tolist())
    ids, sources = problems["question_id"].to_list(), problems["source"].to_list()
    audit = []
    for row in range(n):
        keeper = keeper_of_cluster[int(clusters[row])]
        if keeper == row:
            continue
        method = "exact" if row in exact_rows and texts[row] == texts[keeper] else "near"
        score = float(fuzz.ratio(texts[row], texts[keeper]))
        audit.append(
            {
                "question_id": ids[row],
                "source": sources[row],
                "kept_question_id": ids[keeper],
                "kept_source": sources[keeper],
                "cluster_id": int(clusters[row]),
                "method": method,
                "score": score,
                "removed": True,
                "llm_confirmed": None,
            }
        )
    text_clusters = connected_clusters(n, np.concatenate([exact_pairs, near_pairs]))
    for (i, j), score, verdict in zip(
        semantic_pairs.tolist(), semantic_scores.tolist(), confirmed, strict=True
    ):
        kept, other = (i, j) if ranks[i] < ranks[j] else (j, i)
        if text_clusters[i] == text_clusters[j]:
            continue
        removed = bool(
            clusters[other] == clusters[kept] and keeper_of_cluster[int(clusters[other])] != other
        )
        if removed:
            # Already listed as removed through the merged cluster: mark it as a semantic decision.
            audit = [row for row in audit if row["question_id"] != ids[other]]
        audit.append(
            {
                "question_id": ids[other],
                "source": sources[other],
                "kept_question_id": ids[kept],
                "kept_source": sources[kept],
                "cluster_id": int(clusters[other]),
                "method": "semantic",
                "score": float(score),
                "removed": removed,
                "llm_confirmed": verdict,
            }
        )
    frame = pl.DataFrame(audit, schema=DEDUP_AUDIT)
    counts = {
        f"dedup_removed_{method}": float(
            frame.filter(pl.col("removed") & (pl.col("method") == method)).height
        )
        for method in ("exact", "near", "semantic")
    }
    counts |= {
        "dedup_lsh_candidates": float(candidates),
        "dedup_semantic_flagged": float(len(semantic_pairs)),
        "dedup_input_problems": float(n),
    }
    logger.info("dedup: %s", counts)
    _log_metrics(counts)
    return frame


def find_benchmark_contamination(
    problems: pl.DataFrame, benchmark_problems: pl.DataFrame, params: DedupSettings
) -> pl.DataFrame:
    """Audit of training questions that leak a benchmark question (fuzzy ratio or n-gram coverage).

    Every held-out question is checked, whatever its date: a question with no contest_date (the
    CodeContests test split) is scored by evaluation, so a training copy of it is a leak too. Date
    windows are for scoring breakdowns (`evaluation.windows`), never for what is decontaminated.
    """
    settings = params.contamination
    benchmark = benchmark_problems
    matches = find_contamination(
        problems["question"].to_list(),
        benchmark["question"].to_list(),
        fuzz_threshold=settings.fuzz_threshold,
        ngram_size=settings.ngram_size,
        coverage_threshold=settings.coverage_threshold,
    )
    rows = [
        {
            "question_id": problems["question_id"][m.train_index],
            "source": problems["source"][m.train_index],
            "benchmark_question_id": benchmark["question_id"][m.benchmark_index],
            "benchmark_source": benchmark["source"][m.benchmark_index],
            "benchmark_contest_date": benchmark["contest_date"][m.benchmark_index],
            "fuzz_ratio": m.fuzz_ratio,
            "ngram_coverage": m.ngram_coverage,
            "reason": m.reason,
        }
        for m in matches
    ]
    frame = pl.DataFrame(rows, schema=CONTAMINATION_AUDIT)
    logger.info(
        "decontamination: %d training questions leak %d benchmark questions",
        frame["question_id"].n_unique(),
        frame["benchmark_question_id"].n_unique(),
    )
    _log_metrics(
        {
            "contamination_flagged": float(frame["question_id"].n_unique()),
            "contamination_benchmark_pool": float(benchmark.height),
            "contamination_benchmark_undated": float(benchmark["contest_date"].null_count()),
        }
    )
    return frame


def select_deduplicated(
    problems: pl.DataFrame, dedup_clusters: pl.DataFrame, contamination: pl.DataFrame
) -> pl.DataFrame:
    """The training problems minus removed duplicates and benchmark leaks."""
    _require_unique_ids(problems)
    removed = set(dedup_clusters.filter(pl.col("removed"))["question_id"].to_list()) | set(
        contamination["question_id"].to_list()
    )
    kept = problems.filter(~pl.col("question_id").is_in(sorted(removed)))
    logger.info("dedup: %d -> %d problems", problems.height, kept.height)
    _log_metrics({"dedup_output_problems": float(kept.height)})
    return kept

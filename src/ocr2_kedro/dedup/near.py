"""Near-duplicate detection: MinHash-LSH blocking, rapidfuzz verification, connected components.

The recommended thresholds (design.md): character 5-gram MinHash, LSH tuned around Jaccard 0.5, and
`fuzz.ratio >= 80` on the normalized texts as the definition of a near-duplicate. Exhaustive matching
(`exhaustive_pairs`) applies the same definition to every pair and is the yardstick of the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ocr2_kedro.dedup.minhash import MinHasher, lsh_candidate_pairs
from ocr2_kedro.dedup.normalize import normalize_text


@dataclass(frozen=True)
class NearDuplicateThresholds:
    """Parameters of the near-duplicate pass (conf/*/parameters_dedup.yml `near:`)."""

    shingle_size: int = 5
    num_perm: int = 256
    bands: int = 64
    # Candidates whose signatures agree on fewer slots than this are dropped before rapidfuzz: pairs at
    # fuzz.ratio >= 80 measure >= 0.44 on the benchmark corpus, unrelated statements ~0.16 (estimated
    # on 128 slots, standard error <= 0.045).
    min_jaccard: float = 0.28
    fuzz_threshold: float = 80.0
    max_bucket: int = 1000
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict | None) -> NearDuplicateThresholds:
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown near-duplicate thresholds {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**values)

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    @property
    def lsh_jaccard(self) -> float:
        """Knee of the LSH S-curve: the Jaccard similarity (1/bands)^(1/rows)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def as_dict(self) -> dict:
        return asdict(self)


def verify_pairs(
    texts: Sequence[str], pairs: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the candidate pairs whose `fuzz.ratio` reaches `threshold`; returns (pairs, scores)."""
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    firsts = [texts[i] for i in pairs[:, 0]]
    seconds = [texts[j] for j in pairs[:, 1]]
    scores = process.cpdist(firsts, seconds, scorer=fuzz.ratio, score_cutoff=threshold, workers=-1)
    keep = scores >= threshold
    return pairs[keep], scores[keep].astype(np.float64)


def find_near_duplicate_pairs(
    texts: Sequence[str],
    thresholds: NearDuplicateThresholds | None = None,
    normalized: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Verified near-duplicate pairs (i < j) with their scores, and the number of LSH candidates."""
    thresholds = thresholds or NearDuplicateThresholds()
    prepared = list(texts) if normalized else [normalize_text(text) for text in texts]
    if len(prepared) < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64), 0
    hasher = MinHasher(
        num_perm=thresholds.num_perm, shingle_size=thresholds.shingle_size, seed=thresholds.seed
    )
    signatures = hasher.signatures(prepared)
    candidates = lsh_candidate_pairs(signatures, thresholds.bands, max_bucket=thresholds.max_bucket)
    likely = candidates[estimated_jaccard(signatures, candidates) >= thresholds.min_jaccard]
    pairs, scores = verify_pairs(prepared, likely, thresholds.fuzz_threshold)
    return pairs, scores, len(candidates)


def estimated_jaccard(
    signatures: np.ndarray, pairs: np.ndarray, slots: int = 128, chunk_size: int = 500_000
) -> np.ndarray:
    """Share of the first `slots` signature slots on which each pair agrees (MinHash Jaccard estimate).

    A prefilter, so it trades a little precision for memory traffic: 16 bits per slot (a false
    agreement has chance 2^-16) and 128 slots (standard error <= 0.045).
    """
    low = np.ascontiguousarray(signatures[:, :slots].astype(np.uint16))
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk_size):
        chunk = pairs[start : start + chunk_size]
        out[start : start + len(chunk)] = (
            np.count_nonzero(low[chunk[:, 0]] == low[chunk[:, 1]], axis=1) / low.shape[1]
        )
    return out


def exhaustive_pairs(
    texts: Sequence[str],
    threshold: float = 80.0,
    rows: Sequence[int] | None = None,
    chunk_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j), i < j, with `fuzz.ratio >= threshold`, by brute force (rapidfuzz cdist).

    With `rows`, only pairs that involve one of those rows are computed (each row against all texts),
    which is how the benchmark estimates recall on corpora too large for the full matrix.
    """
    prepared = list(texts)
    query_rows = (
        np.arange(len(prepared)) if rows is None else np.asarray(sorted(set(rows)), dtype=np.int64)
    )
    found_pairs, found_scores = [], []
    for chunk_start in range(0, len(query_rows), chunk_size):
        chunk = query_rows[chunk_start : chunk_start + chunk_size]
        matrix = process.cdist(
            [prepared[i] for i in chunk],
            prepared,
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.float32,
            workers=-1,
        )
        local, columns = np.nonzero(matrix >= threshold)
        firsts = chunk[local]
        keep = firsts != columns
        firsts, columns, scores = firsts[keep], columns[keep], matrix[local[keep], columns[keep]]
        found_pairs.append(
            np.stack((np.minimum(firsts, columns), np.maximum(firsts, columns)), axis=1)
        )
        found_scores.append(scores.astype(np.float64))
    if not found_pairs:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    pairs = np.concatenate(found_pairs)
    scores = np.concatenate(found_scores)
    encoded, first_index = np.unique(pairs[:, 0] * len(prepared) + pairs[:, 1], return_index=True)
    return np.stack((encoded // len(prepared), encoded % len(prepared)), axis=1), scores[
        first_index
    ]


def connected_clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Cluster id per item (0..k-1, numbered by first appearance) from the undirected edges `pairs`."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if len(pairs) == 0:
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    # Renumber by first appearance so ids do not depend on scipy's traversal order.
    _, first_seen, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty_like(first_seen)
    rank[np.argsort(first_seen)] = np.arange(len(first_seen))
    return rank[inverse].astype(np.int64)


def cluster_near_duplicates(texts: list[str], **thresholds) -> list[int]:
    """A cluster id per text: texts linked by a chain of near-duplicate pairs share an id.

    Keyword arguments override `NearDuplicateThresholds` (shingle_size, num_perm, bands,
    fuzz_threshold, max_bucket, seed); defaults are the recommended thresholds.
    """
    settings = NearDuplicateThresholds.from_dict(thresholds)
    pairs, _, _ = find_near_duplicate_pairs(texts, settings)
    return connected_clusters(len(texts), pairs).tolist()

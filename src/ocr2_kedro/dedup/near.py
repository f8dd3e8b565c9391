"""Near-duplicate detection: MinHash-LSH blocking, rapidfuzz verification, connected components.

The recommended thresholds (design.md, docs/dedup.md): `fuzz.ratio >= 80` on the normalized texts is
the definition of a near-duplicate; MinHash-LSH only proposes candidates for it. Signatures skip
boilerplate shingles (those in more than 2% of the texts), so unrelated statements that share contest
boilerplate agree on almost no slots, and 3-row bands over 576 slots propose near-duplicates (>= 0.2
Jaccard on the remaining shingles) while background pairs stay ~4*10^-5 of all pairs. Exhaustive
matching (`exhaustive_pairs`) applies the same definition to every pair and is the yardstick of the
benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ocr2_kedro.dedup.minhash import (
    MinHasher,
    band_keys,
    boilerplate_mask,
    lsh_candidate_pairs,
    lsh_candidate_probability,
    shingle_document_frequency,
)
from ocr2_kedro.dedup.normalize import normalize_text


@dataclass(frozen=True)
class NearDuplicateThresholds:
    """Parameters of the near-duplicate pass (conf/*/parameters_dedup.yml `near:`).

    Defaults are the recommended settings, measured in docs/benchmarks.md `## dedup`.
    """

    shingle_size: int = 5
    # Signature slots, filled by `minhash_passes` one-permutation passes (288 slots each: a statement
    # keeps ~300 shingles after the boilerplate filter, so few slots are empty).
    num_perm: int = 576
    minhash_passes: int = 2
    # 192 bands x 3 rows: a pair at Jaccard 0.3 (of the non-boilerplate shingles) becomes a candidate
    # with probability 0.995, at 0.2 with 0.79, at 0.05 with 0.024.
    bands: int = 192
    # Boilerplate: shingles that occur in more than `boilerplate_df` of the texts and in more than
    # `boilerplate_min_texts` texts are not hashed. 1.0 disables the filter.
    boilerplate_df: float = 0.02
    boilerplate_min_texts: int = 10
    # A text that would keep fewer than this share of its shingles keeps all of them (a statement that
    # is all boilerplate, a corpus where every shingle is frequent, or a question copied so often that
    # its own shingles are frequent). Such fallback texts are banded among themselves, with
    # `fallback_bands` bands of `fallback_rows` rows (4 x 96: Jaccard over all shingles of 0.44 ->
    # candidate with probability 0.975, 0.5 -> 0.998, 0.2 -> 0.14; at most num_perm // fallback_rows
    # bands are used).
    min_kept_share: float = 0.2
    fallback_bands: int = 96
    fallback_rows: int = 4
    # Candidates whose signatures agree on fewer of their first 256 slots than this are dropped before
    # rapidfuzz: pairs at fuzz.ratio >= 80 measure >= 0.24 on the benchmark corpus, background
    # candidates mostly < 0.05 (standard error <= 0.031).
    min_jaccard: float = 0.1
    fuzz_threshold: float = 80.0
    max_bucket: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        if self.minhash_passes < 1 or self.num_perm % self.minhash_passes:
            raise ValueError(
                f"minhash_passes ({self.minhash_passes}) must divide num_perm ({self.num_perm})"
            )
        if not 1 <= self.fallback_rows <= self.num_perm:
            raise ValueError(
                f"fallback_rows must be in [1, num_perm ({self.num_perm})], got {self.fallback_rows}"
            )
        if not 0.0 < self.boilerplate_df <= 1.0:
            raise ValueError(f"boilerplate_df must be in (0, 1], got {self.boilerplate_df}")

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

    @property
    def fallback_band_count(self) -> int:
        """Bands of the fallback index: `fallback_bands`, capped by the slots available."""
        return min(self.fallback_bands, self.num_perm // self.fallback_rows)

    def candidate_probability(self, jaccard: float) -> float:
        """Chance that a pair of the given Jaccard similarity shares at least one band."""
        return lsh_candidate_probability(jaccard, self.bands, self.rows)

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


SKETCH_SLOTS = 256


def find_near_duplicate_pairs(
    texts: Sequence[str],
    thresholds: NearDuplicateThresholds | None = None,
    normalized: bool = False,
    batch_size: int = 4096,
    timings: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Verified near-duplicate pairs (i < j) with their scores, and the number of LSH candidates.

    Steps: shingle document frequencies (one pass) -> boilerplate mask -> signatures per batch, kept
    only as band keys and a 16-bit sketch of the first 256 slots -> LSH candidates -> sketch agreement
    >= `min_jaccard` -> `fuzz.ratio >= fuzz_threshold`. `timings`, when given, receives seconds per
    step and counts (candidates, prefiltered, verified).
    """
    thresholds = thresholds or NearDuplicateThresholds()
    clock = _Clock(timings)
    prepared = list(texts) if normalized else [normalize_text(text) for text in texts]
    clock.lap("normalize")
    if len(prepared) < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64), 0
    hasher = MinHasher(
        num_perm=thresholds.num_perm,
        shingle_size=thresholds.shingle_size,
        seed=thresholds.seed,
        passes=thresholds.minhash_passes,
    )
    boilerplate = None
    if thresholds.boilerplate_df < 1.0:
        boilerplate = boilerplate_mask(
            shingle_document_frequency(prepared, thresholds.shingle_size, batch_size),
            len(prepared),
            thresholds.boilerplate_df,
            thresholds.boilerplate_min_texts,
        )
    clock.lap("document_frequency")
    sketch_slots = min(SKETCH_SLOTS, thresholds.num_perm)
    fallback_slots = thresholds.fallback_band_count * thresholds.fallback_rows
    keys = np.empty((len(prepared), thresholds.bands), dtype=np.uint64)
    sketch = np.empty((len(prepared), sketch_slots), dtype=np.uint16)
    fallback = np.zeros(len(prepared), dtype=bool)
    fallback_keys = []
    for start in range(0, len(prepared), batch_size):
        signatures, falls_back = hasher.signatures_with_fallback(
            prepared[start : start + batch_size],
            batch_size=batch_size,
            boilerplate=boilerplate,
            min_kept_share=thresholds.min_kept_share,
        )
        keys[start : start + len(signatures)] = band_keys(signatures, thresholds.bands)
        sketch[start : start + len(signatures)] = signatures[:, :sketch_slots]
        fallback[start : start + len(signatures)] = falls_back
        if falls_back.any():
            fallback_keys.append(
                band_keys(signatures[falls_back, :fallback_slots], thresholds.fallback_band_count)
            )
    clock.lap("minhash")
    # Two LSH indexes: filtered signatures with the main bands, fallback (all-shingle) signatures with
    # their stricter bands. A pair is proposed only within one index.
    if fallback_keys:
        candidates = _candidates_within(np.flatnonzero(~fallback), keys[~fallback], thresholds)
    else:
        candidates = _candidates_within(np.arange(len(prepared)), keys, thresholds)
    if fallback_keys:
        candidates = np.concatenate(
            (
                candidates,
                _candidates_within(
                    np.flatnonzero(fallback), np.concatenate(fallback_keys), thresholds
                ),
            )
        )
    clock.lap("lsh")
    likely = candidates[estimated_jaccard(sketch, candidates) >= thresholds.min_jaccard]
    clock.lap("prefilter")
    pairs, scores = verify_pairs(prepared, likely, thresholds.fuzz_threshold)
    clock.lap("verify")
    clock.count(
        candidates=len(candidates),
        prefiltered=len(likely),
        verified=len(pairs),
        fallback_texts=int(fallback.sum()),
    )
    return pairs, scores, len(candidates)


def _candidates_within(
    members: np.ndarray, keys: np.ndarray, thresholds: NearDuplicateThresholds
) -> np.ndarray:
    """LSH candidates among `members` (their band `keys`), as pairs of corpus indices."""
    if len(members) < 2:
        return np.empty((0, 2), dtype=np.int64)
    return members[lsh_candidate_pairs(keys=keys, max_bucket=thresholds.max_bucket)]


class _Clock:
    def __init__(self, sink: dict[str, float] | None) -> None:
        self._now = time.perf_counter
        self._sink = sink
        self._last = self._now()

    def lap(self, name: str) -> None:
        now = self._now()
        if self._sink is not None:
            self._sink[f"{name}_s"] = self._sink.get(f"{name}_s", 0.0) + now - self._last
        self._last = now

    def count(self, **counts: int) -> None:
        if self._sink is not None:
            self._sink.update(counts)


def estimated_jaccard(
    signatures: np.ndarray,
    pairs: np.ndarray,
    slots: int = SKETCH_SLOTS,
    chunk_size: int = 250_000,
) -> np.ndarray:
    """Share of the first `slots` signature slots on which each pair agrees (MinHash Jaccard estimate).

    A prefilter, so it trades a little precision for memory traffic: 16 bits per slot (a false
    agreement has chance 2^-16) and 256 slots (standard error <= 0.031). `signatures` may be the full
    uint64 matrix or its uint16 sketch.
    """
    low = signatures[:, :slots]
    if low.dtype != np.uint16:
        low = low.astype(np.uint16)
    low = np.ascontiguousarray(low)
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
    first_seen = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first_seen, labels, np.arange(n, dtype=np.int64))
    rank = np.empty_like(first_seen)
    rank[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
    return rank[labels].astype(np.int64)


def cluster_near_duplicates(texts: list[str], **thresholds) -> list[int]:
    """A cluster id per text: texts linked by a chain of near-duplicate pairs share an id.

    Keyword arguments override `NearDuplicateThresholds` (shingle_size, num_perm, minhash_passes,
    bands, boilerplate_df, boilerplate_min_texts, min_kept_share, min_jaccard, fuzz_threshold,
    max_bucket, seed); defaults are the recommended thresholds.
    """
    settings = NearDuplicateThresholds.from_dict(thresholds)
    pairs, _, _ = find_near_duplicate_pairs(texts, settings)
    return connected_clusters(len(texts), pairs).tolist()

"""Near-duplicate detection: MinHash-LSH blocking, order-robust verification, connected components.

The definition (docs/dedup.md): two normalized statements are near-duplicates when `fuzz.ratio >= 80`
(in order, OCR-2's) or when their sentences, matched in any order, cover each other (sentence score
>= 80: reordered, dropped or added sentences), unless a number was changed between them (the number
veto, ocr2_kedro.dedup.sentences). MinHash-LSH only proposes candidates for it. Signatures skip
boilerplate shingles (those in more than 2% of the texts), so unrelated statements that share contest
boilerplate agree on almost no slots, and 3-row bands over 576 slots propose near-duplicates (>= 0.2
Jaccard on the remaining shingles; a set of shingles has no order, so reordering keeps it) while
background pairs stay ~4*10^-5 of all pairs. Exhaustive matching (`exhaustive_near_duplicates`)
applies the same definition to every pair and is the yardstick of the benchmark; `exhaustive_pairs`
is the `fuzz.ratio` part alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

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
from ocr2_kedro.dedup.sentences import SentenceIndex, sentence_scores


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
    # verification: pairs at fuzz.ratio >= 80 measured >= 0.24 on the previous (synthetic) benchmark
    # corpus, background candidates mostly < 0.05 (standard error <= 0.031).
    min_jaccard: float = 0.1
    # Candidates below fuzz_threshold are aligned sentence by sentence (the costly step) only when
    # their signatures agree on >= this share of the first 256 slots: on the benchmark corpus 87% of
    # the unrelated candidates agree on less, every planted pair that the alignment keeps on more
    # (reordered, dropped or added sentences leave most shingles in place).
    align_min_jaccard: float = 0.2
    # Verification: a candidate is a near-duplicate when `fuzz.ratio >= fuzz_threshold` (in order,
    # character by character) or when its sentence score reaches `sentence_threshold` (sentences
    # matched in any order: reordered, dropped or added sentences; see ocr2_kedro.dedup.sentences),
    # unless numbers veto it. A sentence counts as matched at `fuzz.ratio >= sentence_match` with its
    # most similar sentence on the other side; the score weighs the shorter text's matched share by
    # `short_weight` and the longer's by the rest. `number_veto`: sentences that are each other's best
    # match (>= sentence_match) and each carry a number the other lacks ("n <= 100" / "n <= 2 * 10^5")
    # make the pair two problems. sentence_threshold > 100 turns the sentence score off;
    # number_veto false with it gives the plain `fuzz.ratio >= 80` of OCR-2.
    fuzz_threshold: float = 80.0
    sentence_threshold: float = 80.0
    sentence_match: float = 70.0
    short_weight: float = 0.75
    number_veto: bool = True
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
    texts: Sequence[str],
    pairs: np.ndarray,
    threshold: float | None = None,
    thresholds: NearDuplicateThresholds | None = None,
    details: dict[str, np.ndarray] | None = None,
    agreement: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the candidate pairs that are near-duplicates; returns (pairs, scores).

    A pair is kept when `fuzz.ratio >= fuzz_threshold` or its sentence score reaches
    `sentence_threshold`, and the number veto does not fire (`NearDuplicateThresholds`). The score is
    the larger of the two. `threshold`, when given, overrides `fuzz_threshold`. Sentence alignment
    runs only where it can change the answer: pairs below the ratio threshold, and pairs above it
    whose texts do not carry the same numbers. `agreement` (MinHash signature agreement per pair,
    from the LSH stage) lets pairs below the ratio threshold skip the alignment when it is under
    `align_min_jaccard`; without it every such pair is aligned (exhaustive search).
    `details`, when given, receives per input pair the
    arrays `ratio`, `sentence_score` (NaN where not computed), `number_conflict` and `kept`.
    """
    settings = thresholds or NearDuplicateThresholds()
    if threshold is not None:
        settings = replace(settings, fuzz_threshold=threshold)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    firsts = [texts[i] for i in pairs[:, 0]]
    seconds = [texts[j] for j in pairs[:, 1]]
    ratio = process.cpdist(firsts, seconds, scorer=fuzz.ratio, workers=-1).astype(np.float64)
    by_ratio = ratio >= settings.fuzz_threshold
    use_sentences = settings.sentence_threshold <= 100.0
    need = ~by_ratio if use_sentences else np.zeros(len(pairs), dtype=bool)
    if agreement is not None:
        need &= np.asarray(agreement) >= settings.align_min_jaccard
    sentence_score = np.full(len(pairs), np.nan)
    conflict = np.zeros(len(pairs), dtype=bool)
    if use_sentences or settings.number_veto:
        # Sentences and their numbers, split once per text for all the checks below.
        index = SentenceIndex(texts, np.unique(pairs))
        if settings.number_veto:
            # Above the ratio threshold only a changed number can undo the match: texts with the
            # same numbers (most copies) skip the alignment.
            first, second = index.locate(pairs[:, 0]), index.locate(pairs[:, 1])
            need |= by_ratio & np.fromiter(
                (
                    index.sorted_values[a] != index.sorted_values[b]
                    for a, b in zip(first.tolist(), second.tolist(), strict=True)
                ),
                dtype=bool,
                count=len(pairs),
            )
        if need.any():
            aligned = sentence_scores(
                texts,
                pairs[need],
                sentence_match=settings.sentence_match,
                short_weight=settings.short_weight,
                index=index,
            )
            sentence_score[need] = aligned.score
            if settings.number_veto:
                conflict[need] = aligned.number_conflict
    by_sentences = use_sentences & (np.nan_to_num(sentence_score) >= settings.sentence_threshold)
    keep = (by_ratio | by_sentences) & ~conflict
    scores = np.fmax(ratio, np.where(by_sentences, sentence_score, np.nan))
    if details is not None:
        details.update(
            ratio=ratio, sentence_score=sentence_score, number_conflict=conflict, kept=keep
        )
    return pairs[keep], scores[keep]


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
    >= `min_jaccard` -> `verify_pairs` (`fuzz.ratio` or sentence score, number veto). `timings`,
    when given, receives seconds per step and counts (candidates, prefiltered, verified,
    fallback_texts).
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
    has_kept = np.zeros(len(prepared), dtype=bool)
    fallback = np.zeros(len(prepared), dtype=bool)
    fallback_keys, fallback_sketches = [], []
    for start in range(0, len(prepared), batch_size):
        filtered, kept, falls_back, all_shingles = hasher.filtered_and_fallback_signatures(
            prepared[start : start + batch_size], boilerplate, thresholds.min_kept_share
        )
        stop = start + len(filtered)
        keys[start:stop] = band_keys(filtered, thresholds.bands)
        sketch[start:stop] = filtered[:, :sketch_slots]
        has_kept[start:stop] = kept
        fallback[start:stop] = falls_back
        if len(all_shingles):
            fallback_keys.append(
                band_keys(all_shingles[:, :fallback_slots], thresholds.fallback_band_count)
            )
            fallback_sketches.append(all_shingles[:, :sketch_slots].astype(np.uint16))
    clock.lap("minhash")
    # Two LSH indexes: every text that kept a shingle, on its non-boilerplate shingles with the main
    # bands; the fallback texts also on all their shingles with the stricter fallback bands. Each
    # index prefilters its candidates with its own signatures.
    members = np.flatnonzero(has_kept)
    candidates = _candidates_within(members, keys[members], thresholds)
    clock.lap("lsh")
    agreement = estimated_jaccard(sketch, candidates)
    keep = agreement >= thresholds.min_jaccard
    likely, agreement = candidates[keep], agreement[keep]
    clock.lap("prefilter")
    fallback_rows = np.flatnonzero(fallback)
    if len(fallback_rows) > 1:
        local = lsh_candidate_pairs(
            keys=np.concatenate(fallback_keys), max_bucket=thresholds.max_bucket
        )
        local_agreement = estimated_jaccard(np.concatenate(fallback_sketches), local)
        fallback_candidates = fallback_rows[local]
        candidates = np.concatenate((candidates, fallback_candidates))
        keep = local_agreement >= thresholds.min_jaccard
        likely, agreement = _unique_pairs(
            np.concatenate((likely, fallback_candidates[keep])),
            np.concatenate((agreement, local_agreement[keep])),
            len(prepared),
        )
    clock.lap("lsh")
    pairs, scores = verify_pairs(prepared, likely, thresholds=thresholds, agreement=agreement)
    clock.lap("verify")
    clock.count(
        candidates=len(candidates),
        prefiltered=len(likely),
        verified=len(pairs),
        fallback_texts=int(fallback.sum()),
    )
    return pairs, scores, len(candidates)


def _unique_pairs(
    pairs: np.ndarray, agreement: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs, each with the larger of its agreements (a pair proposed by both indexes)."""
    codes = pairs[:, 0] * n + pairs[:, 1]
    order = np.argsort(codes, kind="stable")
    codes, agreement = codes[order], agreement[order]
    starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    codes = codes[starts]
    return np.stack((codes // n, codes % n), axis=1), np.maximum.reduceat(agreement, starts)


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


def exhaustive_near_duplicates(
    texts: Sequence[str],
    thresholds: NearDuplicateThresholds | None = None,
    rows: Sequence[int] | None = None,
    chunk_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) that `verify_pairs` keeps, by brute force over all pairs (or all pairs that
    involve one of `rows`): the yardstick of the LSH pipeline under the same definition.

    Two exhaustive passes find every pair that can pass: `fuzz.ratio` of each row against all texts
    (`exhaustive_pairs`), and the sentence score of each row against all texts, from each row's
    sentences matched against every sentence of the corpus (`rapidfuzz.process.cdist`, then a maximum
    per text). `verify_pairs` then applies the number veto to those pairs.
    """
    settings = thresholds or NearDuplicateThresholds()
    prepared = list(texts)
    query_rows = (
        np.arange(len(prepared)) if rows is None else np.asarray(sorted(set(rows)), dtype=np.int64)
    )
    found = [exhaustive_pairs(prepared, settings.fuzz_threshold, query_rows, chunk_size)[0]]
    if settings.sentence_threshold <= 100.0 and len(prepared) > 1:
        index = SentenceIndex(prepared, np.arange(len(prepared)))
        owner = np.repeat(np.arange(len(prepared)), index.counts)
        for row in query_rows.tolist():
            start, count = int(index.starts[row]), int(index.counts[row])
            matrix = process.cdist(
                index.sentences[start : start + count],
                index.sentences,
                scorer=fuzz.ratio,
                score_cutoff=settings.sentence_match,
                dtype=np.float32,
                workers=-1,
            ).astype(np.float64)
            weights = np.where(matrix >= settings.sentence_match, matrix / 100.0, 0.0)
            # Coverage of the row by each text: its sentences' best twin within that text ...
            best_in_text = np.maximum.reduceat(weights, index.starts, axis=1)
            lengths = index.lengths[start : start + count]
            cover_row = lengths @ best_in_text / index.totals[row]
            # ... and of each text by the row: every sentence's best twin among the row's.
            best_of_sentence = weights.max(axis=0)
            cover_text = (
                np.bincount(owner, best_of_sentence * index.lengths, len(prepared)) / index.totals
            )
            row_is_short = index.totals[row] <= index.totals
            short = np.where(row_is_short, cover_row, cover_text)
            long = np.where(row_is_short, cover_text, cover_row)
            score = 100.0 * (settings.short_weight * short + (1.0 - settings.short_weight) * long)
            partners = np.flatnonzero(score >= settings.sentence_threshold)
            partners = partners[partners != row]
            found.append(
                np.stack((np.minimum(partners, row), np.maximum(partners, row)), axis=1).astype(
                    np.int64
                )
            )
    candidates = np.concatenate(found)
    if len(candidates) == 0:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    codes = np.unique(candidates[:, 0] * len(prepared) + candidates[:, 1])
    candidates = np.stack((codes // len(prepared), codes % len(prepared)), axis=1)
    return verify_pairs(prepared, candidates, thresholds=settings)


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
    bands, boilerplate_df, boilerplate_min_texts, min_kept_share, fallback_bands, fallback_rows,
    min_jaccard, fuzz_threshold, sentence_threshold, sentence_match, short_weight, number_veto,
    max_bucket, seed); defaults are the recommended thresholds.
    """
    settings = NearDuplicateThresholds.from_dict(thresholds)
    pairs, _, _ = find_near_duplicate_pairs(texts, settings)
    return connected_clusters(len(texts), pairs).tolist()

"""Vectorised MinHash over character shingles and LSH banding into candidate pairs.

Everything runs on numpy arrays of whole batches of texts: shingle hashes are rolling sums over the
concatenated code points, a signature is one `np.minimum.at` over every shingle of the batch
(one-permutation hashing), and banding sorts band keys and emits the pairs inside each bucket, so no
Python loop runs per text or per pair.

Boilerplate: shingles that occur in a large share of the corpus ("the first line contains a single
integer t", "print the answer for each test case") make unrelated statements look similar to MinHash
and flood LSH with false candidates. `shingle_document_frequency` counts, in one pass, how many texts
contain each shingle; `boilerplate_mask` turns the counts into the set of shingles the signatures skip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_SHINGLE_BASE = np.uint64(0x100000001B3)  # FNV prime: spreads code points over the 64-bit word
_EMPTY = np.iinfo(np.uint64).max
# Document frequencies are counted per bucket of the 64-bit shingle hash (its top 24 bits): 2^24
# counters (128 MiB) whatever the corpus size. Two shingles sharing a bucket add their counts, so a
# rare shingle that lands in a boilerplate shingle's bucket is skipped too; with a few thousand
# boilerplate shingles that is ~0.02% of the rare ones, the same shingles in every text.
DF_BUCKET_BITS = 24
_DF_SHIFT = np.uint64(64 - DF_BUCKET_BITS)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: turns structured 64-bit sums into well spread hashes (wrapping arithmetic)."""
    values = values.copy()
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` for 1-d integer arrays by sort + mask (numpy 2.3's `np.unique` is ~50x slower on
    large int64 arrays)."""
    if values.size == 0:
        return values.copy()
    ordered = np.sort(values)
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def shingle_hashes(texts: Sequence[str], k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character k-gram of every text, concatenated.

    Returns (hashes, starts): the shingles of text i are hashes[starts[i]:starts[i + 1]]; `starts` has
    len(texts) + 1 entries. A text shorter than k contributes one shingle (itself); an empty text one
    fixed shingle, so every text has a signature.
    """
    padded = [text if len(text) >= k else text.ljust(k, "\x00") for text in texts]
    lengths = np.fromiter((len(text) for text in padded), dtype=np.int64, count=len(padded))
    codepoints = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(
        np.uint64
    )
    text_starts = np.zeros(len(padded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=text_starts[1:])
    total = codepoints.size
    with np.errstate(over="ignore"):
        rolling = np.zeros(max(total - k + 1, 0), dtype=np.uint64)
        for offset in range(k):
            rolling = rolling * _SHINGLE_BASE + codepoints[offset : offset + rolling.size]
    # Keep only the windows that lie inside one text.
    counts = lengths - k + 1
    starts = np.zeros(len(padded) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    window_starts = np.repeat(text_starts[:-1], counts) + (
        np.arange(starts[-1]) - np.repeat(starts[:-1], counts)
    )
    with np.errstate(over="ignore"):
        return _mix64(rolling[window_starts]), starts


def _df_buckets(hashes: np.ndarray) -> np.ndarray:
    return (hashes >> _DF_SHIFT).astype(np.int64)


def shingle_document_frequency(
    texts: Sequence[str], shingle_size: int = 5, batch_size: int = 4096
) -> np.ndarray:
    """How many texts contain each shingle: (2^DF_BUCKET_BITS,) int64 counts per hash bucket.

    One streaming pass (a text counts once per shingle however often it repeats it); counts of two
    corpora add, so at scale each partition counts its own and the driver sums them.
    """
    counts = np.zeros(1 << DF_BUCKET_BITS, dtype=np.int64)
    for batch_start in range(0, len(texts), batch_size):
        hashes, starts = shingle_hashes(texts[batch_start : batch_start + batch_size], shingle_size)
        owner_bits = max(int(len(starts) - 1).bit_length(), 1)
        owners = np.repeat(np.arange(len(starts) - 1, dtype=np.uint64), np.diff(starts))
        # One sort of (bucket, text) keys: unique keys are the texts containing each bucket, and
        # runs of one bucket count them.
        buckets = sorted_unique(((hashes >> _DF_SHIFT) << np.uint64(owner_bits)) | owners) >> (
            np.uint64(owner_bits)
        )
        run_starts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
        counts[buckets[run_starts].astype(np.int64)] += np.diff(
            np.concatenate((run_starts, [buckets.size]))
        )
    return counts


def boilerplate_mask(
    document_frequency: np.ndarray, num_texts: int, max_share: float, min_texts: int
) -> np.ndarray | None:
    """Boolean mask over df buckets: shingles in more than `max_share` of the texts and in more than
    `min_texts` texts (so a tiny corpus, or one question copied a few times, loses nothing).
    None when nothing qualifies."""
    limit = max(math.floor(max_share * num_texts), min_texts)
    mask = document_frequency > limit
    return mask if mask.any() else None


class MinHasher:
    """MinHash signatures of `num_perm` slots by densified one-permutation hashing.

    Each shingle is hashed once per pass; its hash picks a slot (hash mod slots) and competes for that
    slot's minimum (hash div slots), so a signature costs `passes` passes over the shingles instead of
    one pass per permutation. `passes` independent passes fill num_perm / passes slots each, which
    keeps few slots empty when texts have fewer shingles than `num_perm` (after the boilerplate
    filter a statement keeps ~300). Empty slots borrow the nearest non-empty slot to their right,
    shifted by the distance (Shrivastava's rotation densification), which keeps two slots equal with
    probability close to the texts' Jaccard similarity.
    """

    def __init__(
        self, num_perm: int = 128, shingle_size: int = 5, seed: int = 0, passes: int = 1
    ) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        if passes < 1 or num_perm % passes:
            raise ValueError(f"passes ({passes}) must divide num_perm ({num_perm})")
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.passes = passes
        base = seed + 0x9E3779B97F4A7C15
        self._salts = _mix64(np.arange(base, base + passes, dtype=np.uint64))

    def signatures(
        self,
        texts: Sequence[str],
        batch_size: int = 4096,
        boilerplate: np.ndarray | None = None,
        min_kept_share: float = 0.2,
    ) -> np.ndarray:
        """(len(texts), num_perm) uint64 MinHash signatures (see `signatures_with_fallback`)."""
        return self.signatures_with_fallback(texts, batch_size, boilerplate, min_kept_share)[0]

    def signatures_with_fallback(
        self,
        texts: Sequence[str],
        batch_size: int = 4096,
        boilerplate: np.ndarray | None = None,
        min_kept_share: float = 0.2,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(len(texts), num_perm) uint64 signatures, and per text whether it fell back.

        `boilerplate` (from `boilerplate_mask`) names the shingle buckets to skip. A text that would
        keep fewer than `min_kept_share` of its shingles (a statement made of boilerplate, a corpus
        where every shingle is frequent, or a question copied so often that its own shingles became
        frequent) keeps all of them instead and is flagged: its signature then estimates Jaccard
        similarity over all shingles and is only comparable with other fallback texts.
        """
        slots = self.num_perm // self.passes
        out = np.empty((len(texts), self.num_perm), dtype=np.uint64)
        fallback = np.zeros(len(texts), dtype=bool)
        for batch_start in range(0, len(texts), batch_size):
            batch = texts[batch_start : batch_start + batch_size]
            hashes, starts = shingle_hashes(batch, self.shingle_size)
            per_text = np.diff(starts)
            owners = np.repeat(np.arange(len(batch), dtype=np.int64), per_text)
            if boilerplate is not None:
                keep = ~boilerplate[_df_buckets(hashes)]
                kept = np.bincount(owners[keep], minlength=len(batch))
                falls_back = kept < min_kept_share * per_text
                fallback[batch_start : batch_start + len(batch)] = falls_back
                keep |= falls_back[owners]
                hashes, owners = hashes[keep], owners[keep]
            for index, salt in enumerate(self._salts):
                block = _one_permutation(_mix64(hashes ^ salt), owners, len(batch), slots)
                out[batch_start : batch_start + len(batch), index * slots : (index + 1) * slots] = (
                    block
                )
        return out, fallback

    def filtered_and_fallback_signatures(
        self,
        texts: Sequence[str],
        boilerplate: np.ndarray | None,
        min_kept_share: float = 0.2,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Signatures over the non-boilerplate shingles of every text, and over all shingles of the
        texts that fall back (`signatures_with_fallback`).

        Returns (filtered (n, num_perm), has_kept (n,) bool: the text kept at least one shingle, so
        its filtered signature is meaningful, fallback (n,) bool, all_shingles (fallback.sum(),
        num_perm)). A text that falls back is thus comparable both with the other fallback texts
        (all shingles) and with every text (the few shingles it kept): a near-duplicate pair where
        only one side falls back (a copy that lost most of its own sentences) still meets in the
        main index.
        """
        slots = self.num_perm // self.passes
        hashes, starts = shingle_hashes(texts, self.shingle_size)
        per_text = np.diff(starts)
        owners = np.repeat(np.arange(len(texts), dtype=np.int64), per_text)
        if boilerplate is None:
            keep = np.ones(hashes.size, dtype=bool)
        else:
            keep = ~boilerplate[_df_buckets(hashes)]
        kept = np.bincount(owners[keep], minlength=len(texts))
        fallback = (kept < min_kept_share * per_text) if boilerplate is not None else kept < 0
        filtered = np.empty((len(texts), self.num_perm), dtype=np.uint64)
        rows = np.flatnonzero(fallback)
        all_shingles = np.empty((len(rows), self.num_perm), dtype=np.uint64)
        in_fallback = fallback[owners]
        fallback_owner = np.searchsorted(rows, owners[in_fallback])
        for index, salt in enumerate(self._salts):
            mixed = _mix64(hashes ^ salt)
            block = slice(index * slots, (index + 1) * slots)
            filtered[:, block] = _one_permutation(mixed[keep], owners[keep], len(texts), slots)
            if len(rows):
                all_shingles[:, block] = _one_permutation(
                    mixed[in_fallback], fallback_owner, len(rows), slots
                )
        return filtered, kept > 0, fallback, all_shingles


def _one_permutation(
    hashes: np.ndarray, owners: np.ndarray, num_texts: int, slots: int
) -> np.ndarray:
    width = np.uint64(slots)
    block = np.full(num_texts * slots, _EMPTY, dtype=np.uint64)
    np.minimum.at(block, owners * slots + (hashes % width).astype(np.int64), hashes // width)
    block = block.reshape(num_texts, slots)
    missing = block == _EMPTY
    return _densify(block, missing) if missing.any() else block


def _densify(block: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill empty slots from the nearest filled slot to the right (circular), offset by the distance.

    Vectorised: the index of the next filled slot is a suffix minimum over the row written twice
    (for the wrap-around). Rows with no filled slot at all stay empty.
    """
    rows, width = block.shape
    columns = np.arange(2 * width)
    candidate = np.where(np.tile(missing, 2), 2 * width, columns)
    nearest = np.minimum.accumulate(candidate[:, ::-1], axis=1)[:, ::-1][:, :width]
    has_donor = nearest < 2 * width
    distance = (nearest - columns[:width]).astype(np.uint64)
    donor = np.take_along_axis(block, np.where(has_donor, nearest % width, 0), axis=1)
    offset_unit = np.uint64(0xD6E8FEB86659FD93)
    with np.errstate(over="ignore"):
        filled = donor + offset_unit * distance
    return np.where(missing & has_donor, filled, block)


def band_keys(signatures: np.ndarray, bands: int) -> np.ndarray:
    """(n, bands) uint64 keys: each band's rows folded into one hash.

    Band b takes the strided slots b, b + bands, b + 2 * bands, ...: densification copies a filled
    slot into the empty slots just before it, so adjacent slots are correlated, and bands of adjacent
    slots would collide far more often than Jaccard^rows between unrelated texts.
    """
    n, num_perm = signatures.shape
    if bands < 1 or num_perm % bands:
        raise ValueError(f"bands ({bands}) must divide num_perm ({num_perm})")
    rows = num_perm // bands
    grouped = signatures.reshape(n, rows, bands)
    with np.errstate(over="ignore"):
        keys = np.zeros((n, bands), dtype=np.uint64)
        for row in range(rows):
            keys = _mix64(keys * _SHINGLE_BASE + grouped[:, row, :])
    return keys


def pairs_in_buckets(keys: np.ndarray, max_bucket: int | None = None) -> np.ndarray:
    """All (i, j), i < j, whose key is equal, as an (m, 2) int64 array.

    `max_bucket` bounds the pairs a single bucket can emit (a bucket of m members emits m*(m-1)/2):
    members beyond it are paired with the bucket's first `max_bucket` members only, which keeps them
    connected for clustering without the quadratic blow-up of boilerplate-only texts.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    boundaries = np.flatnonzero(np.diff(sorted_keys)) + 1
    run_starts = np.concatenate(([0], boundaries))
    run_lengths = np.diff(np.concatenate((run_starts, [keys.size])))
    multi = run_lengths > 1
    if not multi.any():
        return np.empty((0, 2), dtype=np.int64)
    run_starts, run_lengths = run_starts[multi], run_lengths[multi]
    position_run_start = np.repeat(run_starts, run_lengths)
    rank_in_run = np.arange(int(run_lengths.sum())) - np.repeat(
        np.cumsum(run_lengths) - run_lengths, run_lengths
    )
    positions = position_run_start + rank_in_run
    position_run_end = np.repeat(run_starts + run_lengths, run_lengths)
    limit = (
        int(run_lengths.max())
        if max_bucket is None
        else min(int(run_lengths.max()), max_bucket + 1)
    )
    firsts, seconds = [], []
    for distance in range(1, limit):
        partner = positions + distance
        ok = partner < position_run_end
        if max_bucket is not None:
            ok &= positions - position_run_start < max_bucket
        if not ok.any():
            break
        firsts.append(order[positions[ok]])
        seconds.append(order[partner[ok]])
    if max_bucket is not None and limit <= int(run_lengths.max()):
        # Members past the cap: tie each to its bucket's first member.
        beyond = positions - position_run_start > max_bucket
        firsts.append(order[position_run_start[beyond]])
        seconds.append(order[positions[beyond]])
    first = np.concatenate(firsts)
    second = np.concatenate(seconds)
    return np.stack((np.minimum(first, second), np.maximum(first, second)), axis=1).astype(np.int64)


def lsh_candidate_pairs(
    signatures: np.ndarray | None = None,
    bands: int = 0,
    max_bucket: int | None = 1000,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Unique (i, j), i < j, that share at least one LSH band.

    Pass `signatures` and `bands`, or the (n, bands) `keys` of `band_keys` directly (which need not
    keep the whole signature matrix in memory).
    """
    if keys is None:
        if signatures is None:
            raise ValueError("pass signatures and bands, or keys")
        keys = band_keys(signatures, bands)
    n = keys.shape[0]
    encoded = []
    for band in range(keys.shape[1]):
        pairs = pairs_in_buckets(keys[:, band], max_bucket=max_bucket)
        if pairs.size:
            encoded.append(pairs[:, 0] * n + pairs[:, 1])
    if not encoded:
        return np.empty((0, 2), dtype=np.int64)
    unique = sorted_unique(np.concatenate(encoded))
    return np.stack((unique // n, unique % n), axis=1)


def lsh_candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Chance that two texts of the given Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands

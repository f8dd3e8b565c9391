"""Vectorised MinHash over character shingles and LSH banding into candidate pairs.

Everything runs on numpy arrays of whole batches of texts: shingle hashes are rolling sums over the
concatenated code points, each permutation is one multiply-add over every shingle of the batch, and the
per-text minimum is one `np.minimum.reduceat`. Banding sorts band keys and emits the pairs inside each
bucket, so no Python loop runs per text or per pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_SHINGLE_BASE = np.uint64(0x100000001B3)  # FNV prime: spreads code points over the 64-bit word


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: turns structured 64-bit sums into well spread hashes (wrapping arithmetic)."""
    values = values.copy()
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


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


class MinHasher:
    """MinHash signatures of `num_perm` slots by densified one-permutation hashing.

    Each shingle is hashed once; its hash picks a slot (hash mod num_perm) and competes for that slot's
    minimum (hash div num_perm), so a signature costs one pass over the shingles instead of one pass per
    permutation. Empty slots (texts with few shingles) borrow the nearest non-empty slot to their right,
    shifted by the distance (Shrivastava's rotation densification), which keeps two slots equal with
    probability close to the texts' Jaccard similarity.
    """

    def __init__(self, num_perm: int = 128, shingle_size: int = 5, seed: int = 0) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self._salt = _mix64(np.array([seed + 0x9E3779B97F4A7C15], dtype=np.uint64))[0]

    def signatures(self, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
        """(len(texts), num_perm) uint64 MinHash signatures."""
        slots = np.uint64(self.num_perm)
        empty = np.iinfo(np.uint64).max
        out = np.empty((len(texts), self.num_perm), dtype=np.uint64)
        for batch_start in range(0, len(texts), batch_size):
            batch = texts[batch_start : batch_start + batch_size]
            hashes, starts = shingle_hashes(batch, self.shingle_size)
            hashes = _mix64(hashes ^ self._salt)
            owners = np.repeat(np.arange(len(batch), dtype=np.uint64), np.diff(starts))
            block = np.full(len(batch) * self.num_perm, empty, dtype=np.uint64)
            np.minimum.at(
                block, (owners * slots + hashes % slots).astype(np.int64), hashes // slots
            )
            block = block.reshape(len(batch), self.num_perm)
            missing = block == empty
            if missing.any():
                block = _densify(block, missing)
            out[batch_start : batch_start + len(batch)] = block
        return out


def _densify(block: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill empty slots from the nearest filled slot to the right (circular), offset by the distance."""
    filled = block.copy()
    still_missing = missing.copy()
    num_perm = block.shape[1]
    offset_unit = np.uint64(0xD6E8FEB86659FD93)
    with np.errstate(over="ignore"):
        for distance in range(1, num_perm):
            if not still_missing.any():
                break
            donor = np.roll(block, -distance, axis=1)
            donor_missing = np.roll(missing, -distance, axis=1)
            take = still_missing & ~donor_missing
            filled[take] = donor[take] + offset_unit * np.uint64(distance)
            still_missing &= ~take
    return filled


def band_keys(signatures: np.ndarray, bands: int) -> np.ndarray:
    """(n, bands) uint64 keys: each band's rows folded into one hash."""
    n, num_perm = signatures.shape
    if bands < 1 or num_perm % bands:
        raise ValueError(f"bands ({bands}) must divide num_perm ({num_perm})")
    rows = num_perm // bands
    grouped = signatures.reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        keys = np.zeros((n, bands), dtype=np.uint64)
        for row in range(rows):
            keys = _mix64(keys * _SHINGLE_BASE + grouped[:, :, row])
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
    signatures: np.ndarray, bands: int, max_bucket: int | None = 1000
) -> np.ndarray:
    """Unique (i, j), i < j, that share at least one LSH band."""
    n = signatures.shape[0]
    keys = band_keys(signatures, bands)
    encoded = []
    for band in range(bands):
        pairs = pairs_in_buckets(keys[:, band], max_bucket=max_bucket)
        if pairs.size:
            encoded.append(pairs[:, 0] * n + pairs[:, 1])
    if not encoded:
        return np.empty((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(encoded))
    return np.stack((unique // n, unique % n), axis=1)


def lsh_candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Chance that two texts of the given Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands

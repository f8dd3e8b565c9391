"""Boilerplate-aware MinHash: shared contest boilerplate must not make candidates, real near-duplicates
must still be found, and texts made of boilerplate fall back to all their shingles."""

import numpy as np
import pytest

from ocr2_kedro.dedup import (
    MinHasher,
    NearDuplicateThresholds,
    boilerplate_mask,
    cluster_near_duplicates,
    exhaustive_pairs,
    find_near_duplicate_pairs,
    shingle_document_frequency,
)
from ocr2_kedro.dedup.minhash import (
    DF_BUCKET_BITS,
    _densify,
    band_keys,
    shingle_hashes,
    sorted_unique,
)

BOILERPLATE = (
    "input: the first line contains a single integer t (1 <= t <= 10^4), the number of test cases. "
    "the first line of each test case contains n (1 <= n <= 2*10^5). it is guaranteed that the sum of "
    "n over all test cases does not exceed 2*10^5. output: for each test case print the answer on a "
    "separate line. if there are multiple answers, print any of them."
)


def _boilerplate_corpus(
    size: int = 300, twins: int = 20, seed: int = 0
) -> tuple[list[str], set[tuple[int, int]]]:
    """`size` statements: ~400 characters of their own words, then the same boilerplate paragraph.
    The first `twins` statements get a copy with two words replaced, appended at the end."""
    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    vocabulary = sorted(
        {"".join(rng.choice(syllables, size=int(rng.integers(2, 5)))) for _ in range(6000)}
    )
    bodies = [" ".join(rng.choice(vocabulary, size=55)) for _ in range(size)]
    texts = [body + ". " + BOILERPLATE for body in bodies]
    planted = set()
    for index in range(twins):
        words = bodies[index].split()
        for position in rng.choice(len(words), size=2, replace=False):
            words[position] = str(rng.choice(vocabulary))
        planted.add((index, len(texts)))
        texts.append(" ".join(words) + ". " + BOILERPLATE)
    return texts, planted


def test_shared_boilerplate_makes_no_candidates_but_twins_are_found():
    texts, planted = _boilerplate_corpus()
    truth, _ = exhaustive_pairs(texts, threshold=80.0)
    assert {tuple(p) for p in truth.tolist()} == planted  # boilerplate alone is not a duplicate

    timings: dict = {}
    found, scores, candidates = find_near_duplicate_pairs(
        texts, NearDuplicateThresholds(), normalized=True, timings=timings
    )
    assert {tuple(p) for p in found.tolist()} == planted
    assert (scores >= 80.0).all()
    assert candidates <= 2 * len(planted)  # the twins, and next to no background pair
    assert timings["fallback_texts"] == 0
    assert {"document_frequency_s", "minhash_s", "lsh_s", "verify_s"} <= set(timings)

    # The one-call API takes the new thresholds as keyword arguments.
    clusters = cluster_near_duplicates(texts, boilerplate_df=0.05, min_kept_share=0.1)
    assert all(clusters[i] == clusters[j] for i, j in planted)
    assert len(set(clusters)) == len(texts) - len(planted)

    # Hashing the boilerplate too (filter off), the same bands propose most background pairs.
    _, _, unfiltered = find_near_duplicate_pairs(
        texts, NearDuplicateThresholds(boilerplate_df=1.0), normalized=True
    )
    all_pairs = len(texts) * (len(texts) - 1) // 2
    assert unfiltered > all_pairs // 3


def test_texts_made_of_boilerplate_fall_back_and_match_each_other():
    texts, planted = _boilerplate_corpus(size=200, twins=5)
    texts += [BOILERPLATE, BOILERPLATE.replace("multiple answers", "several answers")]
    timings: dict = {}
    found, _, _ = find_near_duplicate_pairs(
        texts, NearDuplicateThresholds(), normalized=True, timings=timings
    )
    assert timings["fallback_texts"] == 2
    assert {tuple(p) for p in found.tolist()} == planted | {(len(texts) - 2, len(texts) - 1)}


def test_document_frequency_counts_each_text_once_per_shingle():
    texts = ["abcdefabcdef", "xyzabcdeq", "nothing shared here"]
    counts = shingle_document_frequency(texts, shingle_size=5)
    assert counts.shape == (1 << DF_BUCKET_BITS,)
    hashes, starts = shingle_hashes(["abcde"], 5)
    bucket = int(hashes[0] >> np.uint64(64 - DF_BUCKET_BITS))
    assert counts[bucket] == 2  # twice in the first text, once in the second
    # Counts of two corpora add (what a distributed run sums over partitions).
    halves = shingle_document_frequency(texts[:1], 5) + shingle_document_frequency(texts[1:], 5)
    assert np.array_equal(counts, halves)


def test_boilerplate_mask_spares_small_corpora():
    counts = np.zeros(1 << DF_BUCKET_BITS, dtype=np.int64)
    counts[7], counts[8] = 9, 10
    # In all 10 texts is frequent, but not more than min_texts: a small corpus loses nothing.
    assert boilerplate_mask(counts, 10, max_share=0.02, min_texts=10) is None
    counts[8] = 600  # in 600 of 1000 texts; counts[7] (9 texts) stays under the 20-text limit
    mask = boilerplate_mask(counts, 1000, max_share=0.02, min_texts=10)
    assert mask is not None and mask.sum() == 1 and mask[8]


def test_signatures_flag_fallback_texts():
    texts = ["aaaaa bbbbb ccccc " * 4, "a distinctive statement about painting fences"]
    hashes, _ = shingle_hashes(texts[:1], 5)
    mask = np.zeros(1 << DF_BUCKET_BITS, dtype=bool)
    mask[(hashes >> np.uint64(64 - DF_BUCKET_BITS)).astype(np.int64)] = True
    hasher = MinHasher(num_perm=64, passes=2)
    signatures, fallback = hasher.signatures_with_fallback(texts, boilerplate=mask)
    assert fallback.tolist() == [True, False]
    # A fallback text hashes all its shingles: the same signature as without the filter.
    assert np.array_equal(signatures[0], hasher.signatures(texts[:1])[0])


def test_densify_borrows_from_the_next_filled_slot():
    empty = np.iinfo(np.uint64).max
    block = np.array([[empty, 5, empty, empty, 9], [empty] * 5], dtype=np.uint64)
    filled = _densify(block, block == empty)
    unit = np.uint64(0xD6E8FEB86659FD93)
    with np.errstate(over="ignore"):
        expected = [
            np.uint64(5) + unit,
            5,
            np.uint64(9) + unit * np.uint64(2),
            np.uint64(9) + unit,
            9,
        ]
    assert filled[0].tolist() == [int(value) for value in expected]
    assert (filled[1] == empty).all()  # nothing to borrow from


def test_bands_take_strided_slots():
    signatures = np.arange(24, dtype=np.uint64).reshape(1, 24)
    keys = band_keys(signatures, 8)
    changed = signatures.copy()
    changed[0, 8] += 1  # slot 8 belongs to band 0 (slots 0, 8, 16)
    new_keys = band_keys(changed, 8)
    assert (keys[0] != new_keys[0]).tolist() == [True] + [False] * 7


def test_sorted_unique_matches_numpy():
    values = np.random.default_rng(1).integers(0, 50, size=500)
    assert np.array_equal(sorted_unique(values), np.unique(values))
    assert sorted_unique(np.empty(0, dtype=np.int64)).size == 0


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"num_perm": 100, "bands": 32}, "must divide num_perm"),
        ({"minhash_passes": 5}, "minhash_passes"),
        ({"boilerplate_df": 0.0}, "boilerplate_df"),
    ],
)
def test_inconsistent_thresholds_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        NearDuplicateThresholds(**settings)


def test_a_copy_that_falls_back_still_meets_its_original():
    # The copy kept only the first of its original's sentences beside the boilerplate, so under 20%
    # of its shingles are its own and it falls back; it is still banded on the shingles it kept, in
    # the same index as its original.
    rng = np.random.default_rng(7)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]

    def sentence(words: int) -> str:
        return " ".join("".join(rng.choice(syllables, size=3)) for _ in range(words)) + "."

    texts = [sentence(12) + " " + sentence(12) + " " + BOILERPLATE for _ in range(40)]
    own = [sentence(10) for _ in range(4)]
    original = " ".join(own) + " " + BOILERPLATE
    copy = own[0] + " " + BOILERPLATE
    texts += [original, copy]
    found, _, _ = find_near_duplicate_pairs(texts, NearDuplicateThresholds(), timings=(steps := {}))
    assert steps["fallback_texts"] >= 1
    assert (40, 41) in {tuple(p) for p in found.tolist()}

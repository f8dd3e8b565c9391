import numpy as np
import pytest

from ocr2_kedro.dedup import (
    MinHasher,
    NearDuplicateThresholds,
    cluster_near_duplicates,
    connected_clusters,
    estimated_jaccard,
    exhaustive_pairs,
    find_near_duplicate_pairs,
    lsh_candidate_pairs,
    normalize_text,
    text_hash,
)

BASE = (
    "Alice has n boxes in a row; box i holds a_i candies. In one move she may take all candies from two "
    "adjacent boxes and put them into a new box between them. Find the minimum number of moves after "
    "which every box holds an even number of candies. Input: the first line contains n (1 <= n <= 10^5); "
    "the second line contains the integers a_i (0 <= a_i <= 10^9). Output: print one integer."
)
OTHER = (
    "A museum guard walks along a corridor of m rooms and must visit every painting exactly once. Each "
    "painting has a value and a fragility score; print the largest total value of a set of paintings whose "
    "fragility scores sum to at most k. Input: m and k on the first line, then m pairs of integers."
)


def test_normalization_ignores_layout_and_latex():
    assert normalize_text("Given  $n$ ($1 \\le n \\le 10^5$)\n\nPRINT it") == normalize_text(
        "given n (1 <= n <= 10^5) print it"
    )
    assert text_hash("A  b\nC") == text_hash("a b c")
    assert text_hash("a b c") != text_hash("a b d")
    assert normalize_text(None) == ""


def test_cluster_ids_group_reformatted_and_reworded_copies():
    reworded = (
        BASE.replace("Alice", "Bob").replace("candies", "sweets").replace("minimum", "smallest")
    )
    texts = [BASE, OTHER, BASE.upper().replace("\n", " "), reworded, "Reverse a string."]
    clusters = cluster_near_duplicates(texts)
    assert clusters[0] == clusters[2] == clusters[3]
    assert len({clusters[0], clusters[1], clusters[4]}) == 3
    # Thresholds are parameters: demanding an almost exact match splits the reworded copy off.
    strict = cluster_near_duplicates(texts, fuzz_threshold=99.0)
    assert strict[0] == strict[2] and strict[3] != strict[0]


def test_unknown_threshold_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown near-duplicate thresholds"):
        cluster_near_duplicates(["a", "b"], jaccard=0.5)


def test_minhash_agreement_tracks_jaccard():
    hasher = MinHasher(num_perm=256)
    half = BASE[: len(BASE) // 2]
    signatures = hasher.signatures(
        [
            normalize_text(BASE),
            normalize_text(BASE),
            normalize_text(OTHER),
            normalize_text(half),
            "",
        ]
    )
    agreement = estimated_jaccard(signatures, np.array([[0, 1], [0, 2], [0, 3]]))
    assert agreement[0] == 1.0
    assert agreement[1] < 0.25
    assert 0.3 < agreement[2] < 0.75  # the first half shares about half of the shingles
    assert signatures.shape == (5, 256)


def test_lsh_candidates_include_identical_signatures_only_once():
    signatures = MinHasher(num_perm=64).signatures([BASE, BASE, OTHER, BASE])
    pairs = lsh_candidate_pairs(signatures, bands=16)
    assert {tuple(p) for p in pairs.tolist()} >= {(0, 1), (0, 3), (1, 3)}
    assert len(pairs) == len({tuple(p) for p in pairs.tolist()})
    assert all(i < j for i, j in pairs.tolist())


def test_connected_clusters_are_transitive_and_numbered_by_first_appearance():
    labels = connected_clusters(6, np.array([[4, 5], [0, 2], [2, 3]]))
    assert labels.tolist() == [0, 1, 0, 0, 2, 2]
    assert connected_clusters(3, np.empty((0, 2), dtype=np.int64)).tolist() == [0, 1, 2]


def _corpus(size: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    vocabulary = [
        "".join(
            rng.choice(list("bdfgklmnprstvz"), 1).tolist() + rng.choice(list("aeiou"), 1).tolist()
        )
        * int(rng.integers(1, 3))
        + w
        for w in ("ra", "lo", "mi", "tu", "ne", "sa", "ko", "vi")
        for _ in range(40)
    ]
    texts = []
    while len(texts) < size:
        base = " ".join(rng.choice(vocabulary, size=120).tolist())
        texts.append(base)
        if rng.random() < 0.4:
            words = base.split()
            for index in np.flatnonzero(rng.random(len(words)) < rng.uniform(0.02, 0.25)):
                words[index] = str(rng.choice(vocabulary))
            texts.append(" ".join(words))
    return texts[:size]


def test_lsh_matches_exhaustive_on_a_small_corpus():
    texts = [normalize_text(text) for text in _corpus(600, seed=3)]
    truth, _ = exhaustive_pairs(texts, threshold=80.0)
    found, scores, candidates = find_near_duplicate_pairs(
        texts, NearDuplicateThresholds(), normalized=True
    )
    truth_set, found_set = {tuple(p) for p in truth.tolist()}, {tuple(p) for p in found.tolist()}
    assert len(truth_set) > 50
    assert found_set <= truth_set  # every reported pair is verified by the same scorer
    assert len(found_set & truth_set) / len(truth_set) >= 0.97
    assert (scores >= 80.0).all()
    assert candidates < 600 * 599 / 2 / 5

from ocr2_kedro.dedup.contamination import find_contamination, word_ngrams

BOILERPLATE = "The first line contains a single integer t, the number of test cases. Print the answer for each test case on a separate line."
BENCHMARK = [
    "Mira records the number of visitors to her bakery on each of n days. For a window length k, find the largest total number of visitors over k consecutive days. "
    + BOILERPLATE,
    "Count the primes not greater than n. Input: one integer n. Output: the number of primes p with p <= n.",
]


def test_word_ngrams():
    assert word_ngrams("a b c d", 2) == {"a b", "b c", "c d"}
    assert word_ngrams("a b", 3) == {"a b"}
    assert word_ngrams("", 3) == set()


def test_reworded_leak_is_flagged_by_ratio():
    leak = BENCHMARK[0].replace("records", "writes down").replace("largest", "biggest")
    matches = find_contamination([leak], BENCHMARK)
    assert [(m.train_index, m.benchmark_index) for m in matches] == [(0, 0)]
    assert matches[0].fuzz_ratio >= 80 and "fuzzy" in matches[0].reason


def test_benchmark_pasted_into_a_longer_question_is_flagged_by_coverage():
    padded = (
        "Story: a long introduction about a village fair, its stalls and its many traditions. " * 8
        + BENCHMARK[1]
    )
    matches = find_contamination([padded], BENCHMARK, ngram_size=5, coverage_threshold=0.5)
    assert len(matches) == 1
    assert (
        matches[0].benchmark_index == 1
        and matches[0].reason == "ngram"
        and matches[0].ngram_coverage == 1.0
    )


def test_shared_boilerplate_alone_is_not_contamination():
    unrelated = "Given a tree with n vertices, find its diameter. " + BOILERPLATE
    assert find_contamination([unrelated], BENCHMARK, ngram_size=5, coverage_threshold=0.5) == []
    assert find_contamination([], BENCHMARK) == []

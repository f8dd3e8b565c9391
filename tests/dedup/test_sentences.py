"""Order-robust verification: sentence splitting, numbers by value, sentence scores, number veto."""

import numpy as np

from ocr2_kedro.dedup import normalize_text, numbers_in, sentence_scores, split_sentences
from ocr2_kedro.dedup.sentences import numbers_changed

STATEMENT = (
    "Alice has n boxes in a row, and box i holds a_i candies.\n"
    "In one move she may take all candies from two adjacent boxes and put them into a new box.\n"
    "Find the minimum number of moves after which every box holds an even number of candies.\n\n"
    "Input\nThe first line contains n ($1 \\le n \\le 2 \\cdot 10^{5}$).\n"
    "The second line contains the integers a_i (0 <= a_i <= 10^9).\n\n"
    "Output\nPrint one integer, the answer modulo 10^9 + 7."
)


def test_sentences_end_at_line_breaks_and_sentence_marks():
    sentences = split_sentences(normalize_text(STATEMENT))
    assert sentences[0] == "alice has n boxes in a row, and box i holds a_i candies."
    # A heading too short to stand alone joins its neighbour; "1.5"-style dots do not split.
    assert "input" not in sentences
    assert split_sentences(
        "pour 1.5 liters of water. then stop.\n>>> below_zero([1, -4])\ntrue"
    ) == [
        "pour 1.5 liters of water. then stop.",
        ">>> below_zero([1, -4]) true",
    ]
    assert "input the first line contains n (1 <= n <= 2 * 10^5)." in sentences


def test_numbers_are_compared_by_value():
    assert numbers_in(normalize_text(STATEMENT)) == ["1", "200000", "0", "1000000000", "1000000007"]
    assert numbers_in("n <= 200000 and 1000000007") == numbers_in("n <= 2*10^5 and 10^9+7")
    assert numbers_in("n <= 2 * 100000") == ["200000"]
    assert numbers_in("a_1, x2 and 3") == ["3"]  # indices and names are not numbers
    assert normalize_text("10⁵") == "10^5"  # not "105"


def test_a_number_counts_as_changed_only_when_both_sides_lack_one():
    assert numbers_changed(["1", "100"], ["1", "200000"])
    assert not numbers_changed(["1", "100"], ["1", "100", "2", "256"])  # a header adds numbers
    assert not numbers_changed(["1", "100", "7"], ["1", "100"])  # a sentence was dropped


def test_sentence_score_ignores_order_and_extra_material():
    text = normalize_text(STATEMENT)
    sentences = text.split("\n")
    shuffled = "\n".join(reversed(sentences))
    dropped = "\n".join(sentences[:1] + sentences[2:])
    wrapped = "the kingdom of far far away loves candies.\nhelp alice!\n" + text
    changed = text.replace("2 * 10^5", "100")
    texts = [text, shuffled, dropped, wrapped, changed]
    scores = sentence_scores(texts, np.array([[0, 1], [0, 2], [0, 3], [0, 4]]))
    assert scores.score[0] > 90.0 and scores.score[1] > 90.0 and scores.score[2] > 90.0
    assert scores.coverage_first[1] < 1.0 == scores.coverage_second[1]  # 0 lost a sentence in 2
    assert scores.coverage_first[2] == 1.0 > scores.coverage_second[2]  # 3 has a story on top
    assert scores.number_conflict.tolist() == [False, False, False, True]

"""What statements say about judging: the stated tolerance and "print any", on real-shaped phrasings
(Codeforces through open-r1 with $$$ LaTeX, CodeContests' flattened superscripts, AtCoder as
LiveCodeBench publishes it, TACO/APPS markdown) and on the phrasings that must not match."""

import pytest

from ocr2_kedro.sources.statements import accepts_any_answer, judging_fields, stated_tolerance

TOLERANCES = [
    # open-r1/codeforces output_format, with the formal line after it
    (
        "Print one real number.\n\nYour answer is considered correct if its absolute or relative "
        "error does not exceed $$$10^{-6}$$$.\n\nFormally, let your answer be $$$a$$$, and the "
        "jury's answer be $$$b$$$. Your answer is accepted if and only if "
        "$$$\\frac{|a - b|}{\\max{(1, |b|)}} \\le 10^{-6}$$$.",
        1e-6,
    ),
    (
        "Your answer will be considered correct if its absolute or relative error does not "
        "exceed 10^{-9}.",
        1e-9,
    ),
    # CodeContests: the superscript lost when the statement was flattened
    (
        "Your answer is considered correct if its absolute or relative error does not exceed "
        "10 - 6.",
        1e-6,
    ),
    # AtCoder (LiveCodeBench), with a Unicode minus
    (
        "Your output is considered correct if the absolute or relative error from the true answer "
        "is at most 10^{−6}.",
        1e-6,
    ),
    ("Print the answer with an absolute error of at most 1e-9.", 1e-9),
    ("The answer is accepted if it differs from the correct one by at most 10^-4.", 1e-4),
    ("Output a real number within 1e-4 of the true value.", 1e-4),
    ("Answers within an absolute error of 10^(-5) are accepted.", 1e-5),
    ("The output is considered correct if the absolute or relative error is at most 10⁻⁹.", 1e-9),
    ("Answers with absolute or relative error up to 2 \\cdot 10^{-5} are accepted.", 2e-5),
    ("Print the value with absolute error not greater than 0.000001.", 1e-6),
    ("Your answer is correct if its relative error is within 10<sup>-6</sup>.", 1e-6),
    ("Precision: 1E-07.", 1e-7),
]


@pytest.mark.parametrize(("statement", "tolerance"), TOLERANCES)
def test_the_stated_tolerance_is_read(statement, tolerance):
    assert stated_tolerance(statement) == pytest.approx(tolerance, rel=1e-12)


@pytest.mark.parametrize(
    "statement",
    [
        None,
        "",
        "Print the answer modulo 10^9+7.",
        "1 ≤ n ≤ 10^5. Print the minimum number of operations.",
        "If there is an error in the input, print -1.",
        # "within" that is not a tolerance, with a number that looks like a flattened power
        "Walk within 10 - 20 meters of the gate and print the number of trees you see.",
        # no error phrase: only the digits to print, which is an exact comparison
        "Print the answer rounded to exactly 2 digits after the decimal point, e.g. 0.50.",
        # an error phrase whose first number is no tolerance
        "The error counter starts at 0.0 and the answer is the final count.",
    ],
)
def test_statements_that_state_no_tolerance(statement):
    assert stated_tolerance(statement) is None


ANY_ANSWER = [
    "If there are multiple answers, print any of them.",
    "If there are multiple possible answers, you may print any of them.",
    "If there are several solutions, output any.",
    "Print any permutation $$$p$$$ of length $$$n$$$ such that $$$p_i \\ne i$$$.",
    "You can print any valid answer.",
    "If the answer is not unique, print any.",
    "Any of them will be accepted.",
    "If there are many optimal solutions, print any one of them.",
    "If there are multiple ways to do it, you may output any of them.",
    "If there are multiple\nanswers, print\nany of them.",  # across line breaks
    "Any correct answer is accepted.",
]


@pytest.mark.parametrize("statement", ANY_ANSWER)
def test_statements_that_accept_any_answer(statement):
    assert accepts_any_answer(statement)


@pytest.mark.parametrize(
    "statement",
    [
        None,
        "There are multiple test cases. Print the answer for each.",
        "You can output the answer in any case (upper or lower). For example, the strings yEs, "
        "yes, Yes, and YES will be recognized as positive responses.",
        "If there are multiple answers, print the lexicographically smallest one.",
        "For any i, a_i ≤ a_{i+1}. Print the answer modulo 998244353.",
        "It is guaranteed that the answer is unique.",
        "You may print any number of spaces between the numbers.",
        "You can print each letter in any case.",
        "Note that there may be multiple ways to reach the same cell. Count them.",
    ],
)
def test_statements_that_do_not(statement):
    assert not accepts_any_answer(statement)


def test_judging_fields_say_true_or_nothing():
    """needs_checker is True where the statement says so, null (not False) where it is silent."""
    assert judging_fields("Print any of them. Absolute error 1e-6.") == {
        "float_tolerance": 1e-6,
        "needs_checker": True,
    }
    assert judging_fields("Print the sum.") == {"float_tolerance": None, "needs_checker": None}

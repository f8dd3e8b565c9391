"""Output comparison rules (tokens with float tolerance, LiveCodeBench lines, JSON structures)."""

from __future__ import annotations

import pytest

from ocr2_kedro.execution import compare_json, compare_stdout


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ("1 2 3\n", "1 2 3", True),
        ("1\n2\n3", "1 2 3", True),
        ("0.3333333", "0.333333333", True),
        ("1000000.5", "1000000.4999999", True),
        ("0.3334", "0.3333", False),
        ("1 2", "1 2 3", False),  # a prefix never passes
        ("1 2 3 4", "1 2 3", False),  # extra output never passes
        ("", "0", False),
        ("12345678901234567891", "12345678901234567890", False),  # big integers compare exactly
        ("1", "1.0000000001", True),
        ("nan", "nan", True),
        ("inf", "1e308", False),
        ("YES", "yes", False),
    ],
)
def test_token_mode(got, expected, same):
    assert compare_stdout(got, expected) is same


def test_line_mode_is_exact_per_line():
    assert compare_stdout("a b\nc  \n\n", "a b\nc", mode="lines")
    assert not compare_stdout("a  b\nc", "a b\nc", mode="lines")
    assert not compare_stdout("0.30000001", "0.3", mode="lines")
    assert not compare_stdout("a", "a\nb", mode="lines")
    with pytest.raises(ValueError, match="compare mode"):
        compare_stdout("a", "a", mode="fuzzy")


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ([1, 2], [1, 2], True),
        ([0.1 + 0.2], [0.3], True),
        ({"a": [1]}, {"a": [1]}, True),
        ({"a": [1]}, {"a": [1], "b": 2}, False),
        (True, 1, False),
        (1, 1.0, True),
        ([1, [2, 3]], [1, [2]], False),
        ("x", "x", True),
        (None, [], False),
    ],
)
def test_json_mode(got, expected, same):
    assert compare_json(got, expected) is same

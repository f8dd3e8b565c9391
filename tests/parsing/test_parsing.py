"""The parsing engine on the shapes teacher and critic outputs really take."""

from __future__ import annotations

import pytest

from ocr2_kedro.parsing import (
    code_blocks,
    extract_code,
    is_placeholder,
    parse_judgement,
    parse_sample,
    parse_verdict_answer,
    split_reasoning,
    syntax_error,
)

PY = "n = int(input())\nprint(n * 2)\n"
CPP = "#include <bits/stdc++.h>\nusing namespace std;\nint main() { int n; cin >> n; cout << 2 * n; }\n"


# ----------------------------------------------------------------------------- split_reasoning


def test_split_reasoning_standard_tags():
    assert split_reasoning("<think>\nhmm\n</think>\n\nanswer") == ("hmm", "answer", True)


def test_split_reasoning_missing_open_tag_as_r1_templates_write_it():
    assert split_reasoning("first I think\n</think>\nthe answer") == (
        "first I think",
        "the answer",
        True,
    )


def test_split_reasoning_missing_close_tag_is_unfinished():
    assert split_reasoning("<think>still going and cut") == ("still going and cut", "", False)


def test_split_reasoning_repeated_tags_answer_after_last_close():
    reasoning, answer, finished = split_reasoning("<think>a</think> middle <think>b</think>final")
    assert finished and answer == "final"
    assert "<think>" not in reasoning and "</think>" not in reasoning
    assert "a" in reasoning and "middle" in reasoning and "b" in reasoning


def test_split_reasoning_no_tags_is_all_answer():
    assert split_reasoning("  just code  ") == ("", "just code", True)
    assert split_reasoning("") == ("", "", True)


# ------------------------------------------------------------------------------- extract_code


def test_extract_code_first_block_of_the_language():
    text = f"Try:\n```cpp\n{CPP}```\nor\n```python\n{PY}```\n```python\nprint(0)\n```"
    assert extract_code(text, "python") == PY
    assert extract_code(text, "cpp") == CPP


@pytest.mark.parametrize("tag", ["py", "Python3", "python  title=sol.py"])
def test_extract_code_tag_variants(tag):
    assert extract_code(f"```{tag}\n{PY}```", "python") == PY


def test_extract_code_untagged_fallback_skips_sample_io_and_prose():
    text = f"Sample:\n```\n3\n1 2 3\n```\nSolution:\n```\n{PY}```"
    assert extract_code(text, "python") == PY
    assert extract_code("The answer is print(1) obviously.", "python") is None
    assert extract_code("```\nsome words only\n```", "python") is None


def test_extract_code_never_takes_another_language_or_an_unclosed_block():
    assert extract_code(f"```cpp\n{CPP}```", "python") is None
    assert extract_code(f"```\n{CPP}```", "python") is None
    assert extract_code(f"```python\n{PY}", "python") is None  # cut before the closing fence


def test_extract_code_indented_and_tilde_fences_and_backticks_inside_code():
    assert extract_code("1. Code:\n   ```python\n   x = 1\n   print(x)\n   ```", "python") == (
        "x = 1\nprint(x)\n"
    )
    assert extract_code("~~~cpp\nint main(){}\n~~~", "cpp") == "int main(){}\n"
    code = 'print("```")\nprint(2)\n'
    assert extract_code(f"```python\n{code}```", "python") == code
    assert len(code_blocks(f"```python\n{code}```")) == 1


def test_extract_code_rejects_unknown_language():
    with pytest.raises(ValueError, match="language"):
        extract_code("x", "rust")


# ------------------------------------------------------------------------------------- syntax


def test_syntax_check_python_and_cpp():
    assert syntax_error(PY, "python") is None
    assert syntax_error(CPP, "cpp") is None
    assert syntax_error("def f(:\n    return 1\n", "python").startswith("line 1")
    assert syntax_error("int main() { int x = ; \n", "cpp") is not None


def test_placeholder_detection():
    assert is_placeholder("def solve():\n    pass\n", "python")
    assert is_placeholder("# your code here\n", "python")
    assert is_placeholder("def f(x):\n    ...\n", "python")
    assert not is_placeholder(PY, "python")
    assert not is_placeholder("def f(x):\n    return x + 1\n", "python")
    assert is_placeholder("#include <cstdio>\nint main() {\n    // your code here\n}\n", "cpp")
    assert is_placeholder("int main() { return 0; }", "cpp")
    assert not is_placeholder(CPP, "cpp")


# ------------------------------------------------------------------------------- parse_sample


def test_parse_sample_clean_sample_has_no_flags():
    parsed = parse_sample(f"<think>easy</think>\n```python\n{PY}```", "python")
    assert parsed.flags == [] and parsed.solution == PY and parsed.reasoning == "easy"


def test_parse_sample_flags_every_reason():
    assert parse_sample("<think>cut", "python", "length").flags == [
        "truncated",
        "unclosed_think",
        "no_code",
    ]
    assert "syntax_error" in parse_sample("```python\ndef f(:\n```", "python").flags
    assert "placeholder" in parse_sample("```python\ndef f():\n    pass\n```", "python").flags
    assert parse_sample("", "python", "error", error="boom").flags == ["backend_error"]


def test_parse_sample_code_in_reasoning_only_when_configured():
    text = f"<think>maybe\n```python\nprint(1)\n```\n</think>\n```python\n{PY}```"
    assert parse_sample(text, "python").flags == []
    assert parse_sample(text, "python", reject_code_in_reasoning=True).flags == [
        "code_in_reasoning"
    ]


# ---------------------------------------------------------------------------- parse_judgement


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The code looks fine.\nJudgement: right", "right"),
        ("Judgement: Wrong", "wrong"),
        ("**Judgement:** RIGHT", "right"),
        ("**Judgement**: *wrong*", "wrong"),
        ("Judgment - right", "right"),
        ("## Final Judgement\n\n**Wrong**", "wrong"),
        ("<judgement>right</judgement>", "right"),
        ("Judgement: `wrong`", "wrong"),
        ("The judgement is right.", "right"),
        ("Judgement: correct", "right"),
        ("Judgement: incorrect", "wrong"),
        ("Final answer: \\boxed{wrong}", "wrong"),
    ],
)
def test_parse_judgement_variants(text, expected):
    assert parse_judgement(text) == expected


def test_parse_judgement_last_judgement_wins():
    assert parse_judgement("Judgement: right\nOn second thought...\nJudgement: wrong") == "wrong"


def test_parse_judgement_ignores_reasoning_and_prose():
    # A judgement inside the reasoning is not the answer's judgement.
    assert parse_judgement("<think>Judgement: right? no</think>\nJudgement: wrong") == "wrong"
    assert parse_judgement("<think>Judgement: right</think>\nI am not sure.") is None
    # A critique cut inside its reasoning has no judgement.
    assert parse_judgement("<think>so far Judgement: right") is None
    # "wrong"/"right" in prose without a judgement label never count.
    assert parse_judgement("This is wrong because the loop is off by one. Right?") is None
    assert parse_judgement("") is None


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("The candidate solution is right.", "right"),
        ("The candidate solution is not right. The loop is right though.", "wrong"),
        ("It is incorrect.", "wrong"),
        ("The solution isn't correct", "wrong"),
        ("```\n\nThe candidate solution is correct.", "right"),
        ("The solution is right.\n\nBut the second version is not correct", "right"),
        ("**Judgement:** Wrong", "wrong"),
        ("```\nC++17:\n```\n\nHere is an example", None),
        ("Maybe.", None),
    ],
)
def test_parse_verdict_answer_reads_the_first_sentence(answer, verdict):
    assert parse_verdict_answer(answer) == verdict

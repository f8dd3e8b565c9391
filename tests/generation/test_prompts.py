"""Solution, critique and pattern-classification prompts, trace truncation, and the question token
budget."""

from __future__ import annotations

import pytest

from ocr2_kedro.generation.prompts import (
    critique_prompt,
    pattern_prompt,
    solution_prompt,
    truncate_middle,
)
from ocr2_kedro.generation.token_budget import TokenCounter
from ocr2_kedro.parsing import parse_judgement
from ocr2_kedro.patterns.behaviours import BEHAVIOURS


def test_solution_prompt_per_language_and_io():
    stdin_py = solution_prompt("Add two numbers.", "python", "stdin")
    assert "standard input" in stdin_py and "```python" in stdin_py
    stdin_cpp = solution_prompt("Add two numbers.", "cpp", "stdin")
    assert "C++17" in stdin_cpp and "```cpp" in stdin_cpp
    functional = solution_prompt(
        "Add.", "python", "functional", "class Solution:\n    def add(self, a, b):\n", "add"
    )
    assert (
        "`add`" in functional and "Starter code" in functional and "Do not read input" in functional
    )
    functional_cpp = solution_prompt("Add.", "cpp", "functional", "", "add")
    assert "JSON array of the arguments of `add`" in functional_cpp
    with pytest.raises(ValueError, match="language"):
        solution_prompt("x", "rust", "stdin")


def test_a_task_with_a_grader_asks_for_its_routines_not_a_program_reading_stdin():
    from ocr2_kedro.generation.requests import grader_headers

    files = [
        {"name": "grader.cpp", "content": "int main() {}"},
        {"name": "sumvec.h", "content": ""},
    ]
    assert grader_headers(files) == ["sumvec.h"] and grader_headers(None) == []
    starter = '#include "sumvec.h"\nlong long sum(std::vector<int> a) {\n  return 0;\n}'
    graded = solution_prompt("Sum.", "cpp", "stdin", starter, None, grader_headers(files))
    assert "Do not write a main function" in graded and '`#include "sumvec.h"`' in graded
    assert f"```cpp\n{starter}\n```" in graded and "standard input" not in graded
    # Without a grader, the prompt is what it was (the fingerprints of other problems hold).
    assert solution_prompt("Sum.", "cpp", "stdin", starter, None, []) == solution_prompt(
        "Sum.", "cpp", "stdin", starter
    )


def test_critique_prompt_holds_question_and_candidate_and_asks_for_a_parseable_judgement():
    text = critique_prompt("Add two numbers.", "cpp", "int main(){}")
    assert "Add two numbers." in text and "```cpp\nint main(){}\n```" in text
    # The judgement line the prompt asks for is exactly what the parser reads.
    assert parse_judgement("Looks good.\nJudgement: right") == "right"
    assert "Judgement: right" in text and "Judgement: wrong" in text


def test_token_counter_uses_the_model_tokenizer_or_says_it_estimates(embedded_model_dir):
    exact = TokenCounter("embedded")
    assert exact.exact and 0 < exact.count("def f(x): return x") < 20
    estimate = TokenCounter("no-such-org/no-such-model")
    assert not estimate.exact and estimate.count("a" * 40) == 10


def test_prompt_asks_for_one_line_per_behaviour_in_order():
    prompt = pattern_prompt("trace text", [(b.name, b.definition) for b in BEHAVIOURS])
    names = [b.name for b in BEHAVIOURS]
    tail = prompt.rsplit("nothing else:\n", 1)[1]
    assert tail.splitlines() == [f"{n}: yes|no" for n in names]
    assert "<<<\ntrace text\n>>>" in prompt
    with pytest.raises(ValueError, match="at least one behaviour"):
        pattern_prompt("x", [])


def test_truncation_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "a" * 50 + "b" * 100 + "c" * 50
    shown, omitted = truncate_middle(text, 100)
    assert omitted == 100
    assert shown.startswith("a" * 50) and shown.endswith("c" * 50)
    assert "[... 100 characters omitted ...]" in shown and "b" not in shown
    assert truncate_middle(text, None) == (text, 0)
    assert truncate_middle(text, 200) == (text, 0)

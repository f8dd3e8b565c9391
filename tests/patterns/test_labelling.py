"""The classifier's answer parser: well-formed answers, tolerated formatting, and missing or
unreadable lines reported as unparsed (never as "no")."""

from __future__ import annotations

from ocr2_kedro.patterns.behaviours import BEHAVIOURS
from ocr2_kedro.patterns.labelling import parse_pattern_answer

NAMES = [b.name for b in BEHAVIOURS]


def test_parser_reads_a_well_formed_answer():
    answer = "\n".join(f"{n}: {'yes' if i % 2 == 0 else 'no'}" for i, n in enumerate(NAMES))
    assert parse_pattern_answer(answer) == {n: i % 2 == 0 for i, n in enumerate(NAMES)}


def test_parser_tolerates_formatting_and_reports_missing_lines_as_unparsed():
    answer = (
        "Sure! Here is my answer:\n"
        "- **Subgoal setting**: Yes\n"
        "2. self-evaluation = no\n"
        "`backtracking`: YES\n"
    )
    assert parse_pattern_answer(answer) == {
        "subgoal_setting": True,
        "self_evaluation": False,
        "backtracking": True,
        "restating_problem": None,
        "backward_chaining": None,
    }


def test_parser_on_garbage_thinking_and_corrections():
    assert parse_pattern_answer("I think the trace is fine.") == dict.fromkeys(NAMES)
    assert parse_pattern_answer("") == dict.fromkeys(NAMES)
    # "subgoal_setting: maybe" is not an answer; yes/no as prose is not one either.
    assert parse_pattern_answer("subgoal_setting: maybe\nyes no yes")["subgoal_setting"] is None
    # Deliberation inside <think> does not count; a cut-off think block parses as nothing.
    thought = "<think>subgoal_setting: yes? no...</think>\nsubgoal_setting: no"
    assert parse_pattern_answer(thought)["subgoal_setting"] is False
    assert parse_pattern_answer("<think>subgoal_setting: yes")["subgoal_setting"] is None
    # The last line naming a behaviour wins.
    assert parse_pattern_answer("backtracking: no\nbacktracking: yes")["backtracking"] is True

"""Reasoning behaviours and their lexical method: regex markers on handmade traces, presence and
matches per 1,000 words, and selecting behaviours by name."""

from __future__ import annotations

import pytest

from ocr2_kedro.patterns.behaviours import (
    BEHAVIOURS,
    behaviours_named,
    lexical_counts,
    lexical_labels,
)

NAMES = [b.name for b in BEHAVIOURS]

PLANNED = (
    "The problem asks for the number of pairs with an even sum. First, I need to count the even "
    "and odd numbers. Then we need to combine them. Let me check this against the example: 3 "
    "pairs, which matches the sample output. Let me verify the edge case n = 1 as well."
)
BACKTRACKED = (
    "Sort and take the two largest. Wait, that's wrong: negative numbers. Let me try a different "
    "approach; on second thought, keep the two smallest too. Wait, this doesn't work either."
)
PLAIN = "Read n and print n * 2. Done."
BACKWARD = "Working backwards from the answer: to reach the goal, we need the largest prefix."


def test_lexical_markers_on_handmade_traces():
    assert lexical_counts(PLANNED) == {
        "subgoal_setting": 2,  # "First, I", "Then we need"
        "self_evaluation": 3,  # "Let me check", "which matches", "Let me verify"
        "backtracking": 0,
        "restating_problem": 1,  # "The problem asks"
        "backward_chaining": 0,
    }
    assert lexical_counts(BACKTRACKED) == {
        "subgoal_setting": 0,
        "self_evaluation": 0,
        # "Wait" x2, "that's wrong", "Let me try a different", "on second thought",
        # "this doesn't work"
        "backtracking": 6,
        "restating_problem": 0,
        "backward_chaining": 0,
    }
    assert set(lexical_counts(PLAIN).values()) == {0}
    assert lexical_counts(BACKWARD)["backward_chaining"] == 2
    # Words, not substrings: "awaited" holds "wait", "verifying" is a marker.
    assert lexical_counts("The result awaited no one.")["backtracking"] == 0
    assert lexical_counts("VERIFYING the loop")["self_evaluation"] == 1


def test_lexical_labels_give_presence_and_rate_per_thousand_words():
    labels = lexical_labels(BACKTRACKED)
    words = len(BACKTRACKED.split())
    assert labels["lexical_backtracking"] is True
    assert labels["lexical_backtracking_per_1k"] == pytest.approx(6000 / words)
    assert labels["lexical_subgoal_setting"] is False
    assert labels["lexical_subgoal_setting_per_1k"] == 0.0
    empty = lexical_labels("")
    assert not any(v for k, v in empty.items() if not k.endswith("_per_1k"))
    assert all(empty[f"lexical_{n}_per_1k"] == 0.0 for n in NAMES)


def test_behaviours_named_selects_and_rejects_unknown_names():
    assert behaviours_named([]) == BEHAVIOURS
    assert [b.name for b in behaviours_named(["backtracking"])] == ["backtracking"]
    with pytest.raises(ValueError, match="unknown behaviours"):
        behaviours_named(["daydreaming"])

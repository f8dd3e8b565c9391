"""The reasoning behaviours a teacher trace may show, and the lexical method of finding them.

The OCR paper (arXiv 2503.01943) found self-evaluation and subgoal generation markedly more frequent
in correct traces; the behaviours here are those of Gandhi et al. ("cognitive behaviours that enable
self-improving reasoners": verification, backtracking, subgoal setting, backward chaining) plus
restating the problem. Each has a definition (what the classifier model is told, see
`labelling`) and a documented list of regular expressions, the cheap lexical baseline: searched
case-insensitively in the whole trace, giving presence and matches per 1,000 words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    """One reasoning behaviour: its name (a column suffix and the classifier's answer key), the
    definition the classifier is given, and the lexical baseline's markers (regexes)."""

    name: str
    definition: str
    markers: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern:
        # One alternation, so overlapping markers ("let me verify" and "verify") count once.
        return re.compile("|".join(f"(?:{marker})" for marker in self.markers), re.IGNORECASE)


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        "subgoal_setting",
        "breaks the problem into smaller intermediate goals or lays out a plan of steps "
        "(e.g. 'first ..., then ...', 'step 1').",
        (
            r"\bfirst(?:ly)?,?\s+(?:i|we|let's|let me|let us)\b",
            r"\b(?:then|next|after that),?\s+(?:i|we)\s+(?:need|should|can|will|have)\b",
            r"\bstep\s+\d+\b",
            r"\bsub-?(?:goal|problem|task)s?\b",
            r"\b(?:break|split|divide)\s+(?:this|it|the problem)\s+(?:down|into)\b",
            r"\bthe (?:plan|steps) (?:is|are|would be)\b",
        ),
    ),
    Behaviour(
        "self_evaluation",
        "checks its own intermediate results or solution, e.g. runs it by hand on the sample "
        "input or verifies a step (e.g. 'let me check this against the example').",
        (
            r"\blet(?:'s| me| us)\s+(?:check|verify|double[- ]check|test|confirm|validate)\b",
            r"\b(?:double[- ]check|sanity[- ]check)",
            r"\bverif(?:y|ying|ied|ication)\b",
            r"\b(?:this|that|which|it) (?:matches|gives the (?:expected|correct|right))\b",
            r"\bis (?:this|that|it) (?:correct|right)\?",
        ),
    ),
    Behaviour(
        "backtracking",
        "notices a mistake or a dead end and abandons that approach for another "
        "(e.g. 'wait, that is wrong, let me try ...').",
        (
            r"\bwait\b",
            r"\b(?:that|this)(?:'s| is) (?:not (?:right|correct)|wrong|incorrect)\b",
            r"\b(?:i|we) made a mistake\b",
            r"\blet(?:'s| me| us)\s+(?:try|think)\s+(?:again|another|a different|differently)\b",
            r"\breconsider\b",
            r"\b(?:on second thought|scratch that)\b",
            r"\b(?:that|this) (?:doesn't|does not|won't|will not) work\b",
        ),
    ),
    Behaviour(
        "restating_problem",
        "restates or paraphrases the problem, its input or its goal in its own words "
        "(e.g. 'so the problem asks for ...').",
        (
            r"\bthe (?:problem|task|question) (?:asks|says|states|wants|requires|is asking)\b",
            r"\b(?:we|i)(?:'re| are|'m| am) (?:given|asked)\b",
            r"\bso,? the (?:problem|task|question|goal) is\b",
            r"\bthe goal is\b",
            r"\bin other words\b",
        ),
    ),
    Behaviour(
        "backward_chaining",
        "reasons backward from the goal or the required answer to what is needed to reach it.",
        (
            r"\bwork(?:ing)? backwards?\b",
            r"\bstart(?:ing)? from the (?:end|goal|answer|result)\b",
            r"\bto (?:get|reach|obtain|achieve) (?:this|that|the (?:answer|result|goal)),?\s+"
            r"(?:we|i) (?:need|must|have to)\b",
            r"\bwhat (?:do|would) (?:we|i) need\b",
        ),
    ),
)


def behaviours_named(names: Sequence[str] | None) -> tuple[Behaviour, ...]:
    """The behaviours to analyse (all when `names` is empty), in the order given."""
    if not names:
        return BEHAVIOURS
    known = {b.name: b for b in BEHAVIOURS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown behaviours {unknown}; known: {sorted(known)}")
    return tuple(known[n] for n in names)


def definitions(behaviours: Sequence[Behaviour]) -> list[tuple[str, str]]:
    """(name, definition) pairs: what the classifier's prompt lists."""
    return [(b.name, b.definition) for b in behaviours]


# ------------------------------------------------------------------------------------------ lexical


def word_count(text: str) -> int:
    return len(text.split())


def lexical_counts(text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, int]:
    """Marker matches per behaviour (non-overlapping, case-insensitive)."""
    return {b.name: sum(1 for _ in b.pattern.finditer(text or "")) for b in behaviours}


def lexical_labels(text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, object]:
    """`lexical_<name>` (any marker present) and `lexical_<name>_per_1k` (matches per 1,000 words;
    0 for an empty trace)."""
    words = word_count(text)
    labels: dict[str, object] = {}
    for name, count in lexical_counts(text, behaviours).items():
        labels[f"lexical_{name}"] = count > 0
        labels[f"lexical_{name}_per_1k"] = 1000.0 * count / words if words else 0.0
    return labels

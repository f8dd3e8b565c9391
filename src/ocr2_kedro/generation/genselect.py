"""GenSelect (generative selection, as NeMo-Skills runs it): the model under evaluation reads k of
its own candidate solutions to a problem, code only (no reasoning), and names the one it thinks is
right. Beside the self-critique selector (which judges each candidate alone), it is evaluated on
seeded k-subsets of the same samples (`metrics.selection`).

- `draw_subsets`: the k-subsets of one unit's n samples (problem, language, temperature), distinct
  and seeded by the unit's key, so every run and machine draws the same ones whatever the order of
  the units; all C(n, k) of them when no more are asked for.
- `genselect_prompt` / `genselect_request`: the question and the k candidates numbered 1..k, each
  one fenced code block; the answer ends with `Best solution: <number>`. The request's id is made
  from the fingerprint of the exact request (model, system prompt, prompt, sampling, seed), as every
  request of the project (`generation.requests`), so a changed candidate, prompt or setting is asked
  afresh and an unchanged one resumes from its shard.
- `parse_choice`: the number named, robustly (`Best solution: 2`, `**Best solution:** [3]`,
  `Judgment: 2`, `\\boxed{2}`, "I choose solution 3"); the last statement wins; a number outside
  1..k or none at all is unparsed (the caller applies its fallback and counts it).

Kedro-free.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ocr2_kedro.generation.base import SamplingConfig
from ocr2_kedro.generation.prompts import FENCE_TAGS, LANGUAGE_NAMES
from ocr2_kedro.generation.requests import BuiltRequest, chat_request
from ocr2_kedro.generation.resumable import fingerprint_request
from ocr2_kedro.schemas import stable_id

# How a subset's pick was made (the `status` of a GenSelect row).
PARSED = "parsed"  # the model named a candidate
UNPARSED = "unparsed"  # no number, or one outside 1..k: the fallback decides
SINGLE = "single_candidate"  # at most one candidate has code: nothing to ask, no request sent
STATUSES = (PARSED, UNPARSED, SINGLE)

ANSWER_LINE = "Best solution: <number>"
NO_CODE = "(this candidate wrote no code)"


def genselect_prompt(
    question: str, language: str, solutions: Sequence[str | None], starter_code: str = ""
) -> str:
    """Ask the model to pick the right one of `solutions` (code only; None: a sample without code).
    `starter_code`: the signature a call-based problem's solution completes (HumanEval), shown
    after the statement as the solution prompt shows it."""
    if language not in LANGUAGE_NAMES:
        raise ValueError(f"language must be one of {sorted(LANGUAGE_NAMES)}, got {language!r}")
    if len(solutions) < 2:
        raise ValueError(f"GenSelect needs at least 2 candidates, got {len(solutions)}")
    name, tag = LANGUAGE_NAMES[language], FENCE_TAGS[language]
    candidates = "\n\n".join(
        f"Solution {number}:\n"
        + (f"```{tag}\n{code.rstrip()}\n```" if code and code.strip() else NO_CODE)
        for number, code in enumerate(solutions, start=1)
    )
    return (
        f"Below are a competitive programming problem and {len(solutions)} candidate solutions "
        f"in {name}, numbered 1 to {len(solutions)}; any number of them may be correct.\n\n"
        f"Problem:\n{question.strip()}\n\n"
        + (f"Starter code:\n```{tag}\n{starter_code.rstrip()}\n```\n\n" if starter_code else "")
        + f"{candidates}\n\n"
        "Compare the candidates: check each one's algorithm against the problem, its edge cases, "
        "input/output format and complexity, and rule out the wrong ones. Then pick the one most "
        "likely to pass every test.\n"
        f"End your answer with one line: `{ANSWER_LINE}` (a number from 1 to {len(solutions)})."
    )


def genselect_request(
    subject_id: str,
    question: str,
    language: str,
    solutions: Sequence[str | None],
    *,
    starter_code: str = "",
    seed: int,
    model: str,
    sampling: SamplingConfig,
    system_prompt: str | None,
) -> BuiltRequest:
    """The GenSelect request of one subset (`subject_id` names it: its unit and its samples). Its
    id, stable_id(subject_id, fingerprint), changes with the model, the system prompt, the prompt
    (question, candidates and their order), the sampling and the seed."""
    prompt = genselect_prompt(question, language, solutions, starter_code)
    fingerprint = fingerprint_request(
        model, chat_request("", prompt, seed, system_prompt), sampling
    )
    request = chat_request(stable_id(subject_id, fingerprint), prompt, seed, system_prompt)
    return BuiltRequest(request, prompt, fingerprint)


# ------------------------------------------------------------------------------------ subsets


def draw_subsets(n: int, k: int, count: int, seed: int, *key: object) -> list[tuple[int, ...]]:
    """`count` distinct k-subsets of range(n), each sorted, seeded by (seed, *key): the same
    subsets on every run and machine for the same unit, independent of the other units. When
    `count` reaches C(n, k), every subset, in lexicographic order (nothing left to draw)."""
    if not 1 <= k <= n:
        raise ValueError(f"subsets need 1 <= k <= n, got k={k}, n={n}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    total = math.comb(n, k)
    if count >= total:
        return list(combinations(range(n), k))
    rng = np.random.Generator(np.random.PCG64(int(stable_id(seed, *key), 16)))
    drawn: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(drawn) < count:
        subset = tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False)))
        if subset not in seen:
            seen.add(subset)
            drawn.append(subset)
    return drawn


def subset_seed(seed: int, subset: Sequence[object]) -> int:
    """The sampling seed of one subset's request: from `seed` and the subset itself (its sample
    ids), not from its position among the draws, so asking for more subsets later keeps every
    request already answered (same subset, same request, resumed from its shard)."""
    return int(seed) + int(stable_id("subset", *subset), 16) % 1_000_003


# ------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Choice:
    """The candidate a GenSelect answer names: `index` 0-based in the order shown (None when
    unparsed), `number` the number as written (None when there was none), `status` PARSED or
    UNPARSED."""

    index: int | None
    number: int | None
    status: str


ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
    "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
)  # fmt: skip
_ORDINAL = "|".join(ORDINALS)
# A number ("2", "#2", "Solution 2", "[2]") or an ordinal ("the second one", "the first solution").
_NUMBER = (
    r"[\s*_`'\"(\[#:=-]*(?:(?:solution|candidate)?\s*#?\s*(\d+)"
    rf"|(?:the\s+)?({_ORDINAL})\b(?:\s+(?:one|solution|candidate))?)"
)
# Explicit answer lines, strongest first; within a pattern the last occurrence wins.
_EXPLICIT = (
    re.compile(
        r"best\s+(?:solution|candidate)\s*(?:is|=|:)?"
        r"(?:\s+(?:indeed|clearly|probably|definitely|likely))?" + _NUMBER,
        re.IGNORECASE,
    ),
    re.compile(r"judge?ment\s*:" + _NUMBER, re.IGNORECASE),
    re.compile(r"\\boxed\{\s*(?:solution\s*)?(\d+)\s*\}()", re.IGNORECASE),
)
# A sentence that states a pick: "the answer is solution 3", "I choose solution 2".
_STATED = re.compile(
    r"\b(?:answer|choose|chose|choice|pick|picked|select|selected|correct one)\b[^.\n]{0,40}?"
    rf"\b(?:(?:solution|candidate)\s*#?\s*(\d+)|the\s+({_ORDINAL})\s+(?:one|solution|candidate))",
    re.IGNORECASE,
)


def parse_choice(text: str | None, k: int) -> Choice:
    """The candidate (1..k as numbered in the prompt) a GenSelect answer names. Tried in turn:
    `Best solution: N` (any case, markdown around it), `Judgment: N` (NeMo-Skills' form),
    `\\boxed{N}`, then a sentence stating a pick ("the answer is solution N"); N may be an ordinal
    ("The best solution is the first one", as small models write it). The last occurrence of the
    first form found decides. A number outside 1..k, or no number, is UNPARSED."""
    text = text or ""
    for pattern in (*_EXPLICIT, _STATED):
        found = pattern.findall(text)
        if found:
            digits, ordinal = found[-1]
            number = int(digits) if digits else ORDINALS.index(ordinal.lower()) + 1
            if 1 <= number <= k:
                return Choice(number - 1, number, PARSED)
            return Choice(None, number, UNPARSED)
    return Choice(None, None, UNPARSED)


__all__ = [
    "ANSWER_LINE",
    "PARSED",
    "SINGLE",
    "STATUSES",
    "UNPARSED",
    "Choice",
    "draw_subsets",
    "genselect_prompt",
    "genselect_request",
    "parse_choice",
    "subset_seed",
]

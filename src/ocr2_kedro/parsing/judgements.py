"""A critic's verdict on a solution: "right", "wrong" or None."""

from __future__ import annotations

import re

from ocr2_kedro.parsing.reasoning import split_reasoning

_JUDGEMENT_WORDS = {"right": "right", "correct": "right", "wrong": "wrong", "incorrect": "wrong"}
# A "judgement" label, then separators (colon, dash, markdown emphasis, heading marks, a tag's
# `>`, "is"), then the verdict word on its own. The label is required so "this is wrong because"
# in prose never counts.
_JUDGEMENT = re.compile(
    r"\b(?:final\s+)?judge?ment\b"
    r"(?:[\s*_`#:>=\-–—|\[\]()\"']|</?\w+>|\bis\b)*"
    r"\b(right|wrong|correct|incorrect)\b",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*(right|wrong)\s*\}?\s*\}", re.IGNORECASE)


def parse_judgement(text: str) -> str | None:
    """ "right", "wrong" or None for a critique.

    Only the answer part is read (after the last `</think>`; a critique whose `<think>` never closed
    has no judgement). Case, markdown emphasis (`**Judgement:** Right`), "Judgment"/"Final judgement",
    `<judgement>wrong</judgement>` and `\\boxed{right}` are understood; the last judgement wins.
    """
    _, answer, finished = split_reasoning(text)
    if not finished or not answer:
        return None
    matches = [(m.start(), m.group(1).lower()) for m in _JUDGEMENT.finditer(answer)] + [
        (m.start(), m.group(1).lower()) for m in _BOXED.finditer(answer)
    ]
    if not matches:
        return None
    _, word = max(matches)
    return _JUDGEMENT_WORDS[word]


_NEGATIVE_VERDICT = re.compile(
    r"\b(?:wrong|incorrect|not\s+(?:right|correct)|(?:isn't|is\s+not)\s+(?:right|correct))\b"
)
_POSITIVE_VERDICT = re.compile(r"\b(?:right|correct)\b")


def parse_verdict_answer(text: str) -> str | None:
    """ "right", "wrong" or None for a one-line answer to "is the solution right or wrong?".

    A `Judgement:` line counts as in `parse_judgement`; otherwise only the first sentence of the
    first line with words is read ("The candidate solution is not right." -> "wrong"), since that
    is the answer and what follows is commentary.
    """
    judged = parse_judgement(text)
    if judged is not None:
        return judged
    line = next(
        (ln for ln in text.splitlines() if re.search(r"[A-Za-z]", ln) and "```" not in ln), ""
    )
    sentence = re.split(r"(?<=[.!?])\s", line.strip().lower(), maxsplit=1)[0]
    if _NEGATIVE_VERDICT.search(sentence):
        return "wrong"
    if _POSITIVE_VERDICT.search(sentence):
        return "right"
    return None

"""Reasoning and answer: a teacher's output split at its think tags."""

from __future__ import annotations

OPEN_THINK, CLOSE_THINK = "<think>", "</think>"


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """Return (reasoning, answer, finished).

    - `</think>` present: the answer is what follows the last one; the reasoning is everything
      before it with every think tag removed (repeated or missing `<think>` is fine: R1-style chat
      templates put the opening tag in the prompt).
    - only `<think>`: the sample was cut inside its reasoning: (reasoning, "", False).
    - neither tag: all answer, as non-reasoning models write it.
    """
    text = text or ""
    if CLOSE_THINK in text:
        head, _, answer = text.rpartition(CLOSE_THINK)
        reasoning = head.replace(OPEN_THINK, "").replace(CLOSE_THINK, "").strip()
        return reasoning, answer.strip(), True
    if OPEN_THINK in text:
        _, _, reasoning = text.partition(OPEN_THINK)
        return reasoning.replace(OPEN_THINK, "").strip(), "", False
    return "", text.strip(), True

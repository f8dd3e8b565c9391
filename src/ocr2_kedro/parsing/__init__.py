"""Parsing engine: split reasoning from answer, extract the code block, parse critique judgements."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#-]*)[^\n]*\n(.*?)```", re.DOTALL)
_LANGUAGE_TAGS = {
    "python": {"python", "py", "python3"},
    "cpp": {"cpp", "c++", "cc", "cxx", "c"},
}


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """Return (reasoning, answer, finished).

    `finished` is False when a `<think>` was opened but never closed (the sample was cut inside its
    reasoning). Text with neither tag is all answer, as non-reasoning models write it.
    """
    open_tag, close_tag = "<think>", "</think>"
    if close_tag in text:
        head, _, answer = text.rpartition(close_tag)
        reasoning = head.replace(open_tag, "").strip()
        return reasoning, answer.strip(), True
    if open_tag in text:
        return text.split(open_tag, 1)[1].strip(), "", False
    return "", text.strip(), True


def extract_code(text: str, language: str) -> str | None:
    """The first fenced block tagged with `language`, else the first untagged block; never prose."""
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    wanted = _LANGUAGE_TAGS[language]
    for tag, body in blocks:
        if tag in wanted and body.strip():
            return body.strip() + "\n"
    for tag, body in blocks:
        if not tag and body.strip():
            return body.strip() + "\n"
    return None

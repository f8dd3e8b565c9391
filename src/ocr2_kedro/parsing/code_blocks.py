"""Fenced code blocks, and the solution code of a language in an answer (never prose)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

LANGUAGE_TAGS = {
    "python": frozenset({"python", "py", "python3", "py3", "python2"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "c", "hpp", "cplusplus", "h"}),
}


_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # lower-cased first word of the info string, "" when untagged
    body: str
    closed: bool


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block (``` or ~~~, any length >= 3, indented fences too), in order.

    Line-based rather than one regex so a fence inside a string of the code (three backticks
    on the same line as other text) does not end the block.
    """
    blocks: list[CodeBlock] = []
    lines = (text or "").split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening["fence"]
        info = opening["info"].strip()
        tag = info.split()[0].lower().strip("{}.") if info else ""
        body: list[str] = []
        closed = False
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(tag, textwrap.dedent("\n".join(body)).strip("\n"), closed))
    return blocks


_CODE_HINTS = {
    "python": re.compile(
        r"^\s*(def |class |import |from \w+ import|print\(|for .+:|while .+:|if .+:)|input\(\)|sys\.stdin",
        re.MULTILINE,
    ),
    "cpp": re.compile(r"#include\s*[<\"]|\bint\s+main\s*\(|\bstd::|using\s+namespace\s+std"),
}
_OTHER_LANGUAGE_HINTS = {
    "python": _CODE_HINTS["cpp"],
    "cpp": re.compile(r"^\s*(def \w+\(|import \w+|from \w+ import)", re.MULTILINE),
}


def _looks_like(code: str, language: str) -> bool:
    return bool(_CODE_HINTS[language].search(code)) and not _OTHER_LANGUAGE_HINTS[language].search(
        code
    )


def extract_code(text: str, language: str) -> str | None:
    """The code of the first closed fenced block of `language`, else None; never prose.

    Fallbacks, in order: a closed block tagged with the language; a closed untagged block that looks
    like code of the language (sample input/output in untagged fences is skipped); blocks tagged with
    another language are never taken. An unclosed block (a cut sample) is not code.
    """
    if language not in LANGUAGE_TAGS:
        raise ValueError(f"language must be one of {sorted(LANGUAGE_TAGS)}, got {language!r}")
    blocks = [b for b in code_blocks(text) if b.closed and b.body.strip()]
    for block in blocks:
        if block.tag in LANGUAGE_TAGS[language]:
            return block.body.rstrip() + "\n"
    for block in blocks:
        if not block.tag and _looks_like(block.body, language):
            return block.body.rstrip() + "\n"
    return None

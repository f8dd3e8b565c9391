"""Parsing engine: split reasoning from answer, extract the code block, check its syntax with
tree-sitter, flag samples for rejection (as OpenCodeReasoning filtered them) and parse critique
judgements. Kedro-free; every function takes and returns plain strings.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from dataclasses import dataclass, field

OPEN_THINK, CLOSE_THINK = "<think>", "</think>"

LANGUAGE_TAGS = {
    "python": frozenset({"python", "py", "python3", "py3", "python2"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "c", "hpp", "cplusplus", "h"}),
}

# Reasons a generated sample is rejected (a flag per reason, several may apply).
FLAG_TRUNCATED = "truncated"  # cut by the length limit (finish_reason "length")
FLAG_UNCLOSED_THINK = "unclosed_think"  # a <think> was opened and never closed
FLAG_NO_CODE = "no_code"  # no code block of the target language in the answer
FLAG_SYNTAX_ERROR = "syntax_error"  # tree-sitter finds an error in the extracted code
FLAG_PLACEHOLDER = "placeholder"  # the code is a stub ("your code here", only `pass`, empty main)
FLAG_CODE_IN_REASONING = "code_in_reasoning"  # a code block inside the reasoning (when configured)
FLAG_BACKEND_ERROR = "backend_error"  # the backend gave up on the request
REJECTION_FLAGS = (
    FLAG_TRUNCATED,
    FLAG_UNCLOSED_THINK,
    FLAG_NO_CODE,
    FLAG_SYNTAX_ERROR,
    FLAG_PLACEHOLDER,
    FLAG_CODE_IN_REASONING,
    FLAG_BACKEND_ERROR,
)


# --------------------------------------------------------------------------------------- reasoning


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


# -------------------------------------------------------------------------------------- code blocks

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


# ----------------------------------------------------------------------------------------- syntax


@functools.cache
def _parser(language: str):
    from tree_sitter import Language, Parser

    if language == "python":
        import tree_sitter_python as grammar
    elif language == "cpp":
        import tree_sitter_cpp as grammar
    else:
        raise ValueError(f"no tree-sitter grammar for {language!r}")
    return Parser(Language(grammar.language()))


def syntax_error(code: str, language: str) -> str | None:
    """None when tree-sitter parses `code` cleanly, else where the first error is ("line 3: ...")."""
    tree = _parser(language).parse(code.encode("utf-8"))
    if not tree.root_node.has_error:
        return None
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line = node.start_point[0] + 1
            what = f"missing {node.type}" if node.is_missing else "unexpected input"
            snippet = code.splitlines()[line - 1].strip() if code.splitlines() else ""
            return f"line {line}: {what}: {snippet[:80]}"
        stack.extend(reversed([c for c in node.children if c.has_error or c.is_missing]))
    return "syntax error"


def has_valid_syntax(code: str, language: str) -> bool:
    return syntax_error(code, language) is None


# ----------------------------------------------------------------------------------- placeholders

# Markers of unfinished model-written code (a solution saying "TODO" is flagged `placeholder`).
_PLACEHOLDER_MARKERS = re.compile(
    r"your (code|solution|implementation) (goes )?here|implement (this|me|the solution)"
    r"|\bTODO\b|fill (this )?in|write your code|solution goes here",
    re.IGNORECASE,
)
_CPP_EMPTY_MAIN = re.compile(
    r"\bint\s+main\s*\([^)]*\)\s*\{\s*(return\s+0\s*;)?\s*\}", re.MULTILINE
)
_CPP_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def _python_is_stub(code: str) -> bool:
    """Every function body is `pass`, `...` or a docstring and nothing else runs."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False

    def trivial(body: list[ast.stmt]) -> bool:
        return all(
            isinstance(stmt, ast.Pass)
            or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
            for stmt in body
        )

    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    top_level_work = [
        n
        for n in tree.body
        if not isinstance(
            n, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        )
        and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        and not isinstance(n, ast.Pass)
    ]
    if not functions:
        return not top_level_work
    return all(trivial(f.body) for f in functions) and not top_level_work


def is_placeholder(code: str, language: str) -> bool:
    """Stub code: a "your code here" marker, only comments, only `pass`/`...`, or an empty `main`."""
    if _PLACEHOLDER_MARKERS.search(code):
        return True
    if language == "python":
        meaningful = [
            line for line in code.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        return not meaningful or _python_is_stub(code)
    without_comments = _CPP_COMMENTS.sub("", code)
    if not without_comments.strip():
        return True
    # An empty main is a stub (real work in a static initializer is too rare to allow for).
    return bool(_CPP_EMPTY_MAIN.search(without_comments))


# ------------------------------------------------------------------------------------- a sample


@dataclass(frozen=True)
class ParsedSample:
    reasoning: str
    answer: str
    solution: str | None
    flags: list[str] = field(default_factory=list)
    syntax_detail: str | None = None


def parse_sample(
    text: str,
    language: str,
    finish_reason: str = "stop",
    *,
    reject_code_in_reasoning: bool = False,
    error: str | None = None,
) -> ParsedSample:
    """Split, extract and check one teacher output; `flags` lists every reason to reject it."""
    reasoning, answer, finished = split_reasoning(text)
    solution = extract_code(answer, language)
    flags: list[str] = []
    detail = None
    if error or finish_reason == "error":
        flags.append(FLAG_BACKEND_ERROR)
    if finish_reason == "length":
        flags.append(FLAG_TRUNCATED)
    if not finished:
        flags.append(FLAG_UNCLOSED_THINK)
    if solution is None:
        if not error:
            flags.append(FLAG_NO_CODE)
    else:
        detail = syntax_error(solution, language)
        if detail is not None:
            flags.append(FLAG_SYNTAX_ERROR)
        if is_placeholder(solution, language):
            flags.append(FLAG_PLACEHOLDER)
    if reject_code_in_reasoning and reasoning and extract_code(reasoning, language) is not None:
        flags.append(FLAG_CODE_IN_REASONING)
    return ParsedSample(reasoning, answer, solution, flags, detail)


# -------------------------------------------------------------------------------------- judgements

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


__all__ = [
    "REJECTION_FLAGS",
    "CodeBlock",
    "ParsedSample",
    "code_blocks",
    "extract_code",
    "has_valid_syntax",
    "is_placeholder",
    "parse_judgement",
    "parse_sample",
    "parse_verdict_answer",
    "split_reasoning",
    "syntax_error",
]

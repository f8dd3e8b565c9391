"""One generated sample checked as OpenCodeReasoning filtered them: split, extract, check; every
reason to reject it is a flag."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocr2_kedro.parsing.code_blocks import extract_code
from ocr2_kedro.parsing.placeholders import is_placeholder
from ocr2_kedro.parsing.reasoning import split_reasoning
from ocr2_kedro.parsing.syntax import syntax_error

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

"""Parsing engine: split reasoning from answer (`reasoning`), extract the code block
(`code_blocks`), check its syntax with tree-sitter (`syntax`), spot stub code (`placeholders`), flag
samples for rejection as OpenCodeReasoning filtered them (`samples`) and parse critique judgements
(`judgements`). Kedro-free; every function takes and returns plain strings.
"""

from ocr2_kedro.parsing.code_blocks import LANGUAGE_TAGS, CodeBlock, code_blocks, extract_code
from ocr2_kedro.parsing.judgements import parse_judgement, parse_verdict_answer
from ocr2_kedro.parsing.placeholders import is_placeholder
from ocr2_kedro.parsing.reasoning import CLOSE_THINK, OPEN_THINK, split_reasoning
from ocr2_kedro.parsing.samples import (
    FLAG_BACKEND_ERROR,
    FLAG_CODE_IN_REASONING,
    FLAG_NO_CODE,
    FLAG_PLACEHOLDER,
    FLAG_SYNTAX_ERROR,
    FLAG_TRUNCATED,
    FLAG_UNCLOSED_THINK,
    REJECTION_FLAGS,
    ParsedSample,
    parse_sample,
)
from ocr2_kedro.parsing.syntax import has_valid_syntax, syntax_error

__all__ = [
    "CLOSE_THINK",
    "FLAG_BACKEND_ERROR",
    "FLAG_CODE_IN_REASONING",
    "FLAG_NO_CODE",
    "FLAG_PLACEHOLDER",
    "FLAG_SYNTAX_ERROR",
    "FLAG_TRUNCATED",
    "FLAG_UNCLOSED_THINK",
    "LANGUAGE_TAGS",
    "OPEN_THINK",
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

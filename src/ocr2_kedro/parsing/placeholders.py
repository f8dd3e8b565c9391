"""Stub code a model writes instead of a solution ("your code here", only `pass`, an empty
`main`)."""

from __future__ import annotations

import ast
import re

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

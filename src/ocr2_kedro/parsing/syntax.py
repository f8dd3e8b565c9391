"""Syntax checks with tree-sitter (Python and C++ grammars)."""

from __future__ import annotations

import functools


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

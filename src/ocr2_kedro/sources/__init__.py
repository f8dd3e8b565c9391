"""Native-schema question sources -> rows of the PROBLEM contract. Kedro-free.

Each `normalize_<source>(record)` takes one record as the source publishes it on the Hugging Face hub
and returns (problem_row, None) or (None, (reason, detail)) for a reject. Covered here: TACO, APPS,
CodeContests, open-r1/codeforces, LiveCodeBench code_generation_lite (with its compressed private
tests), and the project's own JSONL in the PROBLEM contract (the bundled questions).
`normalize_record(kind, ...)` dispatches on the source kind; `readers.RecordSource` reads them.
(OCR-2 rows carry no question, only a reference into one of these sources: the ingestion pipeline
resolves it.)
"""

from __future__ import annotations

import base64
import datetime
import json
import pickle
import re
import zlib
from collections.abc import Mapping
from io import BytesIO

from ocr2_kedro.schemas import stable_id

_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s)\b", re.IGNORECASE)
_MEMORY = re.compile(
    r"(\d+(?:\.\d+)?)\s*(megabytes?|mb|mib|kilobytes?|kb|gigabytes?|gb)\b", re.IGNORECASE
)
_CODECONTESTS_DIFFICULTY = {
    0: None,
    1: "easy",
    2: "medium",
    3: "hard",
    7: "easy",
    8: "medium",
    9: "hard",
}

Reject = tuple[str, str]


def parse_time_limit(text: object) -> float | None:
    """Seconds from '2 seconds', '1.5 s', '500 ms' (None when absent or unreadable)."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    match = _TIME.search(str(text))
    if not match:
        return None
    value = float(match.group(1))
    return value / 1000.0 if match.group(2).lower().startswith(("ms", "milli")) else value


def parse_memory_limit(text: object) -> int | None:
    """Megabytes from '256 megabytes', '64 MB', '262144 kilobytes' (None when absent or unreadable)."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return int(text)
    match = _MEMORY.search(str(text))
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("k"):
        value /= 1024
    elif unit.startswith("g"):
        value *= 1024
    return int(round(value))


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _functional_tests(inputs: list, outputs: list) -> list[dict]:
    # Call-based sources store each test's arguments as a list; the contract wants a JSON array.
    tests = []
    for arguments, expected in zip(inputs, outputs, strict=True):
        if not isinstance(arguments, list):
            arguments = [arguments]
        # APPS/TACO wrap the returned value in a one-element list.
        if isinstance(expected, list) and len(expected) == 1:
            expected = expected[0]
        tests.append({"input": json.dumps(arguments), "output": json.dumps(expected)})
    return tests


def _row(
    source: str, source_id: str, split: str, question: str, tests: list[dict], **fields
) -> dict:
    return {
        "question_id": stable_id(source, split, source_id),
        "source": source,
        "source_id": source_id,
        "split": split,
        "question": question,
        "tests": tests,
        "starter_code": fields.get("starter_code") or "",
        "test_type": fields.get("test_type", "stdin"),
        "fn_name": fields.get("fn_name"),
        "time_limit_s": fields.get("time_limit_s") or 2.0,
        "memory_limit_mb": fields.get("memory_limit_mb") or 256,
        "difficulty": fields.get("difficulty"),
        "contest_date": fields.get("contest_date"),
        "license": fields.get("license"),
        "platform": fields.get("platform"),
    }


def normalize_taco_or_apps(
    record: Mapping, source: str, split: str, index: int
) -> tuple[dict | None, Reject | None]:
    """TACO / APPS rows: `question`, `input_output` (JSON string: inputs, outputs, optional fn_name),
    `starter_code`, `difficulty`; TACO adds `time_limit` / `memory_limit` strings."""
    question = (record.get("question") or "").strip()
    if not question:
        return None, ("empty_statement", "")
    try:
        io = json.loads(record.get("input_output") or "{}")
        inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
        if len(inputs) != len(outputs):
            return None, ("unparseable_tests", f"{len(inputs)} inputs vs {len(outputs)} outputs")
        if not inputs:
            return None, ("no_tests", "")
        fn_name = io.get("fn_name")
        tests = (
            _functional_tests(inputs, outputs)
            if fn_name
            else [
                {"input": _as_text(i), "output": _as_text(o)}
                for i, o in zip(inputs, outputs, strict=True)
            ]
        )
    except (ValueError, TypeError) as error:
        return None, ("unparseable_tests", str(error))
    return _row(
        source,
        str(record.get("problem_id", index)),
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if fn_name else "stdin",
        fn_name=fn_name,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=(record.get("difficulty") or "").lower() or None,
        license=record.get("license") or ("Apache-2.0" if source == "taco" else "MIT"),
    ), None


def normalize_codecontests(
    record: Mapping, split: str, index: int
) -> tuple[dict | None, Reject | None]:
    """deepmind/code_contests rows: `description`, public/private/generated tests as {input, output}
    lists, `time_limit` {seconds, nanos}, `memory_limit_bytes`, integer `difficulty`."""
    question = (record.get("description") or "").strip()
    if not question:
        return None, ("empty_statement", "")
    tests = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        block = record.get(key) or {}
        inputs, outputs = block.get("input") or [], block.get("output") or []
        if len(inputs) != len(outputs):
            return None, (
                "unparseable_tests",
                f"{key}: {len(inputs)} inputs vs {len(outputs)} outputs",
            )
        tests += [{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)]
    if not tests:
        return None, ("no_tests", "")
    limit = record.get("time_limit") or {}
    seconds = (limit.get("seconds") or 0) + (limit.get("nanos") or 0) / 1e9 if limit else None
    memory = record.get("memory_limit_bytes")
    return _row(
        "codecontests",
        str(record.get("name") or index),
        split,
        question,
        tests,
        time_limit_s=seconds or None,
        memory_limit_mb=int(memory // 2**20) if memory else None,
        difficulty=_CODECONTESTS_DIFFICULTY.get(record.get("difficulty")),
        license="CC-BY-4.0",
    ), None


class UnsafePayloadError(ValueError):
    """A data field that could only be decoded by running code named in the data (a pickle that
    refers to a function or class): refused, never executed."""


# Decompressed private tests above this size are refused: a few kilobytes of zlib can expand to
# gigabytes, and the largest LiveCodeBench test sets are tens of megabytes.
MAX_DECODED_BYTES = 1 << 30


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles only what needs no global lookup: str, bytes, int, float, bool, None, and lists,
    tuples, dicts and sets of them. Every way a pickle runs code (REDUCE, INST, OBJ, NEWOBJ, BUILD,
    the copyreg extension registry) first needs a callable from `find_class`, which is refused, so
    no object is constructed and nothing the data names is imported or called."""

    def find_class(self, module: str, name: str):
        raise UnsafePayloadError(f"pickle refers to {module}.{name}; only plain data is accepted")

    def persistent_load(self, pid):
        raise UnsafePayloadError("pickle uses a persistent id; only plain data is accepted")


def loads_plain_pickle(data: bytes) -> object:
    """`pickle.loads` limited to plain data; UnsafePayloadError for anything that names code, a
    ValueError for a corrupt pickle (one bad row is a reject, not a failed ingestion run)."""
    try:
        return _PlainDataUnpickler(BytesIO(data)).load()
    except UnsafePayloadError:
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt pickle fails in many ways; all are data errors
        raise ValueError(f"unreadable pickle: {type(error).__name__}: {error}") from error


def decode_lcb_private_tests(blob: str) -> list[dict]:
    """LiveCodeBench private tests: JSON, or base64(zlib(pickle(JSON string))).

    The pickle is read with `loads_plain_pickle`: the published format pickles a str, so a payload
    that refers to any function or class (a crafted row that would run commands on the host) is
    refused with UnsafePayloadError before anything in it runs.
    """
    try:
        return json.loads(blob)
    except (ValueError, TypeError):
        pass
    decompressor = zlib.decompressobj()
    raw = decompressor.decompress(base64.b64decode(blob.encode("utf-8")), MAX_DECODED_BYTES)
    if decompressor.unconsumed_tail:
        raise ValueError(f"private tests decompress to more than {MAX_DECODED_BYTES} bytes")
    value = loads_plain_pickle(raw)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(
            f"private tests unpickle to {type(value).__name__}, expected a JSON string"
        )
    return json.loads(value)


def normalize_livecodebench(
    record: Mapping, split: str = "test"
) -> tuple[dict | None, Reject | None]:
    """livecodebench/code_generation_lite rows: `question_content`, `public_test_cases` (JSON string),
    `private_test_cases` (compressed), `metadata` (JSON string with func_name), `contest_date`."""
    question = (record.get("question_content") or "").strip()
    if not question:
        return None, ("empty_statement", "")
    try:
        cases = json.loads(record.get("public_test_cases") or "[]")
        if record.get("private_test_cases"):
            cases += decode_lcb_private_tests(record["private_test_cases"])
        metadata = json.loads(record.get("metadata") or "{}")
    except UnsafePayloadError as error:
        return None, ("unsafe_pickle", f"private_test_cases: {error}")
    except (ValueError, TypeError, zlib.error, pickle.UnpicklingError, EOFError) as error:
        return None, ("unparseable_tests", str(error))
    if not cases:
        return None, ("no_tests", "")
    functional = cases[0].get("testtype") == "functional"
    tests = []
    for case in cases:
        if functional:
            # One JSON value per line, one line per argument.
            try:
                arguments = [
                    json.loads(line) for line in case["input"].splitlines() if line.strip()
                ]
                json.loads(case["output"])
            except ValueError as error:
                return None, ("unparseable_tests", str(error))
            tests.append({"input": json.dumps(arguments), "output": case["output"]})
        else:
            tests.append({"input": case["input"], "output": case["output"]})
    date = (
        datetime.date.fromisoformat(str(record["contest_date"])[:10])
        if record.get("contest_date")
        else None
    )
    return _row(
        "livecodebench",
        str(record.get("question_id")),
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if functional else "stdin",
        fn_name=metadata.get("func_name") if functional else None,
        difficulty=record.get("difficulty"),
        contest_date=date,
        license="CC-BY-4.0",
        platform=(record.get("platform") or "").strip().lower() or None,
    ), None


def normalize_codeforces(
    record: Mapping, split: str = "train"
) -> tuple[dict | None, Reject | None]:
    """open-r1/codeforces rows: statement parts (`description`, `input_format`, `output_format`,
    `note`), `examples` and `official_tests` as {input, output} lists, `time_limit` in seconds,
    `memory_limit` in megabytes, integer `rating`, `contest_start` unix time."""
    parts = [
        record.get("description"),
        record.get("input_format") and "Input\n" + record["input_format"],
        record.get("output_format") and "Output\n" + record["output_format"],
        record.get("note") and "Note\n" + record["note"],
    ]
    question = "\n\n".join(part.strip() for part in parts if part and part.strip())
    if not (record.get("description") or "").strip():
        return None, ("empty_statement", "")
    if record.get("interaction_format"):
        return None, ("interactive", "needs an interactor, not input/output tests")
    tests = [
        {"input": t["input"], "output": t["output"]}
        for t in (record.get("official_tests") or record.get("examples") or [])
    ]
    if not tests:
        return None, ("no_tests", "")
    rating = record.get("rating")
    difficulty = (
        None
        if rating is None
        else "easy"
        if rating < 1400
        else "medium"
        if rating < 2000
        else "hard"
    )
    start = record.get("contest_start")
    return _row(
        "codeforces",
        str(record.get("id")),
        split,
        question,
        tests,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=difficulty,
        contest_date=datetime.datetime.fromtimestamp(start, tz=datetime.UTC).date()
        if start
        else None,
        license="CC-BY-4.0",
        platform="codeforces",
    ), None


def normalize_problem_record(
    record: Mapping, source: str, split: str, index: int
) -> tuple[dict | None, Reject | None]:
    """Rows already in the PROBLEM contract (the bundled questions, any local JSONL written for the
    project); `pool: benchmark` puts a question in the held-out benchmark split "test"."""
    question = (record.get("question") or "").strip()
    tests = record.get("tests") or []
    if not question:
        return None, ("empty_statement", "")
    if not tests:
        return None, ("no_tests", "")
    if record.get("test_type") == "functional":
        try:
            for test in tests:
                json.loads(test["input"]), json.loads(test["output"])
        except (ValueError, KeyError, TypeError) as error:
            return None, ("unparseable_tests", str(error))
    contest_date = record.get("contest_date")
    if isinstance(contest_date, str):
        contest_date = datetime.date.fromisoformat(contest_date[:10])
    return _row(
        source,
        str(record.get("source_id") or index),
        "test" if record.get("pool") == "benchmark" else record.get("split") or split,
        question,
        [{"input": t["input"], "output": t["output"]} for t in tests],
        starter_code=record.get("starter_code"),
        test_type=record.get("test_type", "stdin"),
        fn_name=record.get("fn_name"),
        time_limit_s=record.get("time_limit_s"),
        memory_limit_mb=record.get("memory_limit_mb"),
        difficulty=record.get("difficulty"),
        contest_date=contest_date,
        license=record.get("license", "Apache-2.0"),
        # Null for the bundled questions; a project JSONL may name its judge platform.
        platform=record.get("platform"),
    ), None


# Source kind -> normalizer(record, source name, split, index).
NORMALIZERS = {
    "problems": normalize_problem_record,
    "taco": lambda record, source, split, index: normalize_taco_or_apps(
        record, source, split, index
    ),
    "apps": lambda record, source, split, index: normalize_taco_or_apps(
        record, source, split, index
    ),
    "codecontests": lambda record, source, split, index: normalize_codecontests(
        record, split, index
    ),
    "codeforces": lambda record, source, split, index: normalize_codeforces(record, split),
    "livecodebench": lambda record, source, split, index: normalize_livecodebench(record, split),
}


def normalize_record(
    kind: str, record: Mapping, source: str, split: str, index: int
) -> tuple[dict | None, Reject | None]:
    """Normalize one native record of a source of `kind` (a key of NORMALIZERS)."""
    try:
        normalizer = NORMALIZERS[kind]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}; known: {sorted(NORMALIZERS)}") from None
    return normalizer(record, source, split, index)

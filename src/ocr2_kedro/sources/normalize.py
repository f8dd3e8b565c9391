"""One native record of a source of some kind -> a row of the PROBLEM contract or a reject:
the dispatch from a source's `kind` (parameters_ingestion.yml) to its normalizer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping

from ocr2_kedro.sources.codecontests import normalize_codecontests
from ocr2_kedro.sources.codeforces import normalize_codeforces
from ocr2_kedro.sources.fields import Normalized
from ocr2_kedro.sources.humaneval import normalize_humaneval
from ocr2_kedro.sources.ioi import group_ioi_records, normalize_ioi
from ocr2_kedro.sources.livecodebench import normalize_livecodebench
from ocr2_kedro.sources.project_jsonl import normalize_problem_record
from ocr2_kedro.sources.taco_apps import normalize_taco_or_apps

logger = logging.getLogger(__name__)


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
    "humaneval": lambda record, source, split, index: normalize_humaneval(record, split, index),
    "ioi": lambda record, source, split, index: normalize_ioi(record, split, index),
}

# Source kind -> what gathers its native records into the records its normalizer reads, for a
# source that spreads one question over several records (open-r1's IOI: a row per subtask, a row
# per test case). (split, index, record) in and out.
GROUPERS: dict[str, Callable[[Iterable], Iterator]] = {"ioi": group_ioi_records}


def grouped_records(kind: str, records: Iterable) -> Iterable:
    """The records a source of `kind` is normalized from: as read, or gathered (GROUPERS)."""
    grouper = GROUPERS.get(kind)
    return records if grouper is None else grouper(records)


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

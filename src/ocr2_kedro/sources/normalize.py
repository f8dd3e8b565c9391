"""One native record of a source of some kind -> a row of the PROBLEM contract or a reject:
the dispatch from a source's `kind` (parameters_ingestion.yml) to its normalizer."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ocr2_kedro.sources.codecontests import normalize_codecontests
from ocr2_kedro.sources.codeforces import normalize_codeforces
from ocr2_kedro.sources.fields import Normalized
from ocr2_kedro.sources.humaneval import normalize_humaneval
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

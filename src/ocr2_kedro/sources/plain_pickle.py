"""Unpickling data that is only data: a pickle that names a function or class is refused before
anything in it runs (LiveCodeBench publishes its private tests pickled)."""

from __future__ import annotations

import pickle
from io import BytesIO


class UnsafePayloadError(ValueError):
    """A data field that could only be decoded by running code named in the data (a pickle that
    refers to a function or class): refused, never executed."""


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

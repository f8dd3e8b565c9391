"""Parquet files written by many processes into one shared directory (generation shards, verify
batches): each file appears whole or not at all, and what a dead writer left is recognised."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import polars as pl

# A temporary file older than this is left over from a dead writer on some node: removed.
STALE_TEMPORARY_S = 24 * 3600


def write_parquet_atomically(frame: pl.DataFrame, target: Path) -> Path:
    # Named by host and process: drivers on several nodes share the directory.
    temporary = target.with_name(f".tmp-{target.name}@{socket.gethostname()}@{os.getpid()}")
    frame.write_parquet(temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)  # atomic: a chunk is either all there or not at all
    return target


def is_stale_temporary(temporary: Path) -> bool:
    """A temporary file of a writer that died: one of this host whose process is gone, or any old
    one. Another driver's file being written right now (same shared directory) is left alone."""
    try:
        if time.time() - temporary.stat().st_mtime > STALE_TEMPORARY_S:
            return True
    except FileNotFoundError:
        return False
    parts = temporary.name.split("@")
    if len(parts) != 3 or parts[1] != socket.gethostname() or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False

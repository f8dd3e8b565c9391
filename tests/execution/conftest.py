"""Fixtures for the execution engine tests: one warm verifier and C++ compile cache per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocr2_kedro.execution import Verifier


@pytest.fixture(scope="session")
def cpp_cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cpp_cache")


@pytest.fixture(scope="session")
def verifier(cpp_cache_dir):
    with Verifier(cache_dir=str(cpp_cache_dir)) as shared:
        assert shared.isolation  # starts the zygote
        yield shared


def sandbox_uid_processes(uid: int | None) -> list[int]:
    """Pids of host processes running with the sandbox uid (must be none between tests)."""
    if uid is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                found.append(int(entry))
    return found

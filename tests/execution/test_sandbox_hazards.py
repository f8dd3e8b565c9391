"""Hazards around the sandbox rather than inside it: uid leases as root (links, other owners, uids in
use), compiler messages that could carry host files, compile failures the sandbox caused, and a
busy user's process count."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ocr2_kedro.execution import CompileCache, Verifier
from ocr2_kedro.execution.runner import source_diagnostics
from ocr2_kedro.execution.sandbox import (
    SandboxError,
    _UidLease,
    parse_uid_range,
)
from tests.support.unprivileged import run_unprivileged, unused_uid

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="uid leases and uid drops are root's")
ONE = [{"input": "1 2\n", "output": "3\n"}]


@pytest.fixture
def lease_dir():
    top = Path(f"/run/ocr2_test_{uuid.uuid4().hex[:8]}")
    yield str(top / "uids")
    shutil.rmtree(top, ignore_errors=True)


def test_uid_range_is_parsed_and_checked():
    assert parse_uid_range("70000-70009") == range(70000, 70010)
    assert parse_uid_range(None).start >= 1_000_000
    for bad in ("70000", "10-20", "70009-70000", "a-b", "1000-5000000000"):
        with pytest.raises(ValueError, match="sandbox uid range"):
            parse_uid_range(bad)


@root_only
def test_lease_skips_links_and_uids_in_use(lease_dir):
    first = unused_uid()
    busy = subprocess.Popen(["sleep", "30"], user=first, group=first)
    try:
        lease = _UidLease(range(first, first + 3), lease_dir)
        # The running process's uid is skipped.
        assert lease.uid == first + 1
        directory = Path(lease_dir)
        assert directory.stat().st_mode & 0o777 == 0o700
        os.symlink("/etc/passwd", directory / f"{first + 2}.lock")
        # The next free uid's lock file is a link another user could have planted: skipped.
        with pytest.raises(SandboxError, match="no free sandbox uid"):
            _UidLease(range(first, first + 3), lease_dir)
        assert Path("/etc/passwd").read_text()  # untouched
        lease.release()
    finally:
        busy.kill()
        busy.wait()


@root_only
def test_lease_directory_owned_by_another_user_is_refused(lease_dir):
    top = Path(lease_dir).parent
    top.mkdir(mode=0o755)
    os.chown(top, 12345, 12345)
    with pytest.raises(SandboxError, match="only root can write"):
        _UidLease(range(2_000_000_000, 2_000_000_001), lease_dir)


def test_compiler_messages_keep_only_the_solution_lines(cpp_cache_dir):
    text = (
        "In file included from solution.cpp:3:\n"
        "/etc/secret.conf:1:1: error: 'root' does not name a type\n"
        "    1 | root:$6$hash:19000:0:99999:7:::\n"
        "solution.cpp:5:3: error: 'x' was not declared in this scope\n"
    )
    message = source_diagnostics(text)
    assert "$6$hash" not in message and "root" not in message
    assert "solution.cpp:5:3: error: 'x' was not declared" in message
    assert "1 errors in included files" in message
    assert source_diagnostics("vfork: Resource temporarily unavailable") is None
    assert source_diagnostics("g++: fatal error: Killed signal terminated program cc1plus") is None
    # A real compile that includes a file the sandbox can see: CE, and none of its text is kept.
    with Verifier(cache_dir=str(cpp_cache_dir), use_pch=False) as verifier:
        code = '#include "/etc/ld.so.conf"\nint main() { return 0; }\n'
        result = verifier.run_tests(code, "cpp", ONE)
    assert result.verdict == "CE"
    assert "ld.so.conf.d" not in result.error and "include /etc" not in result.error
    assert "In file included from solution.cpp:1" in result.error


def test_compile_failure_the_sandbox_caused_is_se_and_not_cached(tmp_path):
    cache = CompileCache(str(tmp_path), use_pch=False)
    cache.compiler = shutil.which(
        "false"
    )  # exits 1 and says nothing, like a compiler that could not run
    with Verifier(compile_cache=cache) as verifier:
        result = verifier.run_tests("int main() { return 0; }", "cpp", ONE)
    assert result.verdict == "SE"
    assert "without a diagnostic on the source" in result.error
    assert not list(tmp_path.glob("*.err"))


@root_only
def test_a_busy_user_still_compiles():
    """RLIMIT_NPROC counts a uid's processes in a user namespace: the sandbox's own namespace, not
    the user's 100 other processes, is what the compile's process limit (32) sees."""
    script = (
        "import subprocess, tempfile\n"
        "from ocr2_kedro.execution import Verifier\n"
        "sleepers = [subprocess.Popen(['sleep', '60']) for _ in range(100)]\n"
        "try:\n"
        "    with Verifier(cache_dir=tempfile.mkdtemp(), use_pch=False) as verifier:\n"
        "        code = '#include <cstdio>\\nint main(){ puts(\"3\"); }'\n"
        "        print(verifier.run_tests(code, 'cpp', [{'input': '', 'output': '3'}]).verdict)\n"
        "finally:\n"
        "    for sleeper in sleepers:\n"
        "        sleeper.kill()\n"
    )
    completed = run_unprivileged([sys.executable, "-c", script], timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split()[-1] == "AC", completed.stdout

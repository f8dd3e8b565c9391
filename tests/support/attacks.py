"""The attack matrix: hostile solutions against the sandbox, each checked from the host side.

`run_matrix(verifier)` runs every attack through a real `Verifier` in the current process's mode
(root, or a normal user) and returns {attack: {"blocked": bool, "verdict": ..., "detail": ...}}.
An attack is blocked when the solution could not do what it tried: its verdict is not AC where
AC would need the stolen answer, and the host-side check (files, processes, listener, zygote) holds.

Run as a script it prints the matrix as JSON (the unprivileged test runs it as an unused uid):
    python -m tests.support.attacks [--allow-weak] [--cache DIR] [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ocr2_kedro.execution import Verifier
from ocr2_kedro.execution.sandbox import SandboxUnavailable

REPO = Path(__file__).resolve().parents[2]
# Where a run keeps its outputs (git-ignored): a leftover of a crashed test is never committed.
PROJECT_DATA = REPO / "data" / "08_reporting"
FAST = {"time_limit_s": 1.0, "memory_limit_mb": 128}
ONE = [{"input": "1 2\n", "output": "3\n"}]
HONEST = "a, b = map(int, input().split())\nprint(a + b)\n"


def _zygote_pid(verifier: Verifier) -> int:
    """The host pid of the zygote: the Popen'd process itself, or (in a PID namespace) its child."""
    launched = verifier.sandbox._process.pid
    children = Path(f"/proc/{launched}/task/{launched}/children")
    with contextlib.suppress(OSError):
        found = children.read_text().split()
        if found:
            return int(found[0])
    return launched


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("PPid:"):
                    if int(line.split()[1]) == pid:
                        found.append(int(entry))
                    break
    return found


class Host:
    """What the attacks try to reach: a secret file only the caller can read, an expected output
    in a file under the project, a listener on loopback, a secret in the environment, and a
    sentinel process of the caller's own."""

    def __init__(self) -> None:
        # Given by the caller when it made the project file (an unprivileged run cannot write
        # under the project).
        self.secret = os.environ.get("OCR2_ATTACK_SECRET") or f"secret{uuid.uuid4().hex}"
        self.home = Path(tempfile.mkdtemp(prefix="ocr2_attack_home_"))
        self.private_file = self.home / "token.txt"
        self.private_file.write_text(self.secret)
        os.chmod(self.private_file, 0o600)
        os.chmod(self.home, 0o700)
        given = os.environ.get("OCR2_ATTACK_PROJECT_FILE")
        self.project_file = (
            Path(given) if given else PROJECT_DATA / f".attack_expected_{uuid.uuid4().hex}.txt"
        )
        if not given:
            self.project_file.parent.mkdir(parents=True, exist_ok=True)
            self.project_file.write_text(self.secret)
            os.chmod(self.project_file, 0o644)
        os.environ["OCR2_ATTACK_SECRET"] = self.secret
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.sentinel = subprocess.Popen(["sleep", "300"])
        self.marker = f"ocr2_attack_marker_{uuid.uuid4().hex}"
        self.write_targets = [
            str(self.home / self.marker),
            str(PROJECT_DATA / self.marker),
            f"/tmp/{self.marker}",
            f"/var/tmp/{self.marker}",
            f"/dev/shm/{self.marker}",
        ]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.listener.close()
        self.sentinel.kill()
        self.sentinel.wait()
        owned = [] if os.environ.get("OCR2_ATTACK_PROJECT_FILE") else [self.project_file]
        for path in [*owned, *map(Path, self.write_targets)]:
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.private_file.unlink()
            self.home.rmdir()


def _steal(paths_expression: str) -> str:
    """A solution that prints the first readable file among the paths (the stolen answer)."""
    return (
        "import glob\nfound = 'nothing'\n"
        f"for path in {paths_expression}:\n"
        "    try:\n        found = open(path).read()\n        break\n"
        "    except OSError:\n        pass\n"
        "print(found)\n"
    )


def attacks(host: Host) -> dict[str, tuple[str, str, list[dict], Callable[[object], str | None]]]:
    """name -> (code, language, tests, host check returning a failure text or None)."""
    expected = [{"input": "", "output": host.secret}]
    nothing: Callable[[object], str | None] = lambda result: None  # noqa: E731

    def not_written(result) -> str | None:
        written = [path for path in host.write_targets if os.path.exists(path)]
        return f"written on the host: {written}" if written else None

    def not_connected(result) -> str | None:
        return f"{host.accepted} connections reached the listener" if host.accepted else None

    def sentinel_alive(result) -> str | None:
        return None if host.sentinel.poll() is None else "the caller's own process was killed"

    return {
        "network_out": (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {host.port}), timeout=0.5)\n"
            "    print('connected')\n"
            "except OSError:\n"
            "    print(3)\n",
            "python",
            ONE,
            not_connected,
        ),
        "read_caller_private_file": (
            _steal(repr([str(host.private_file)])),
            "python",
            expected,
            nothing,
        ),
        "read_expected_output_under_project": (
            _steal(
                repr([str(host.project_file)])
                + " + [p for depth in range(1, 5)"
                + " for p in glob.glob('/*' * depth + '/.attack_expected_*')]"
            ),
            "python",
            expected,
            nothing,
        ),
        "read_world_readable_host_file": (
            _steal(repr(["/etc/hostname", "/etc/os-release", "/opt", str(REPO / "README.md")])),
            "python",
            [{"input": "", "output": _first_readable(["/etc/hostname", "/etc/os-release"])}],
            nothing,
        ),
        "write_outside": (
            "import os\n"
            f"for path in {host.write_targets!r}:\n"
            "    try:\n"
            "        with open(path, 'w') as handle:\n"
            "            handle.write('owned')\n"
            "    except OSError:\n"
            "        pass\n"
            "print(3)\n",
            "python",
            ONE,
            not_written,
        ),
        "kill_everything": (
            "import os, signal\n"
            "for target in (-1, 0):\n"
            "    try:\n"
            "        os.kill(target, signal.SIGKILL) if target == -1 else os.killpg(0, signal.SIGKILL)\n"
            "    except OSError:\n"
            "        pass\n"
            "for pid in range(1, 4000):\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError:\n"
            "        pass\n"
            "print(3)\n",
            "python",
            ONE,
            sentinel_alive,
        ),
        "fork_bomb": (
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            "python",
            ONE,
            sentinel_alive,
        ),
        "memory_split_across_processes": (
            # Four processes of 100 MB each under a 128 MB limit: each alone is within it.
            "import os, time\n"
            "for _ in range(3):\n"
            "    if os.fork() == 0:\n"
            "        break\n"
            "block = bytearray(100 << 20)\n"
            "for i in range(0, len(block), 4096):\n"
            "    block[i] = 1\n"
            "time.sleep(0.8)\n"
            "print(3)\n",
            "python",
            ONE,
            sentinel_alive,
        ),
        "setsid_grandchild_outlives_test": (
            "import os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(0.5)\n"
            f"        for path in {host.write_targets!r} + ['/tmp/late']:\n"
            "            try:\n"
            "                open(path, 'w').write('late')\n"
            "            except OSError:\n"
            "                pass\n"
            "        os._exit(0)\n"
            "    os._exit(0)\n"
            "print(3)\n",
            "python",
            ONE,
            not_written,
        ),
        "proc_of_parent": (
            "import os\nseen = ''\n"
            f"for pid in ['self', '1', str(os.getppid()), '{os.getpid()}'] + os.listdir('/proc'):\n"
            "    for name in ('environ', 'cmdline', 'mem'):\n"
            "        try:\n"
            "            seen += open(f'/proc/{pid}/{name}', 'rb').read(65536).decode('latin-1')\n"
            "        except (OSError, ValueError):\n"
            "            pass\n"
            f"print('{host.secret}' if 'OCR2_ATTACK_SECRET' in seen else 'nothing')\n",
            "python",
            expected,
            nothing,
        ),
        "environment_of_parent": (
            "import os\nprint(os.environ.get('OCR2_ATTACK_SECRET', 'nothing'))\n",
            "python",
            expected,
            nothing,
        ),
        "ptrace_anything": (
            "import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "attached = []\n"
            "for entry in os.listdir('/proc'):\n"
            "    if entry.isdigit() and int(entry) != os.getpid():\n"
            "        if libc.ptrace(16, int(entry), 0, 0) == 0:\n"
            "            attached.append(entry)\n"
            "for pid in (1, 2, 3):\n"
            "    if pid != os.getpid() and libc.ptrace(16, pid, 0, 0) == 0:\n"
            "        attached.append(pid)\n"
            "print(3 if not attached else attached)\n",
            "python",
            ONE,
            nothing,
        ),
        "forge_sandbox_fault": (
            "import sys, os\n"
            "sys.stderr.write('sandbox child setup failed:\\nTraceback (most recent call last):\\n')\n"
            "sys.stderr.flush()\n"
            "os._exit(121)\n",
            "python",
            ONE,
            nothing,
        ),
        "cpp_include_host_file": (
            "#include <cstdio>\nint main(){ const char* answer =\n"
            f'#include "{host.private_file}"\n; puts("3"); }}',
            "cpp",
            ONE,
            nothing,
        ),
    }


def _first_readable(paths: list[str]) -> str:
    for path in paths:
        with contextlib.suppress(OSError):
            return Path(path).read_text()
    return "nothing-readable"


# What a blocked attack's verdict is (anything else: the attack got through).
BLOCKED_VERDICTS = {
    "network_out": {"AC"},
    "read_caller_private_file": {"WA"},
    "read_expected_output_under_project": {"WA"},
    "read_world_readable_host_file": {"WA"},
    "write_outside": {"AC"},
    "kill_everything": {"AC", "RE"},
    "fork_bomb": {"TLE", "RE", "MLE"},
    "memory_split_across_processes": {"MLE"},
    "setsid_grandchild_outlives_test": {"AC"},
    "proc_of_parent": {"WA"},
    "environment_of_parent": {"WA"},
    "ptrace_anything": {"AC"},
    "forge_sandbox_fault": {"RE"},
    "cpp_include_host_file": {"CE"},
}


def run_matrix(verifier: Verifier, only: list[str] | None = None) -> dict[str, dict]:
    host = Host()
    results: dict[str, dict] = {}
    try:
        verifier.isolation  # noqa: B018 - start the zygote before the attacks count restarts
        restarts = verifier.sandbox.restarts
        for name, (code, language, tests, check) in attacks(host).items():
            if only and name not in only:
                continue
            result = verifier.run_tests(code, language, tests, **FAST)
            if name == "setsid_grandchild_outlives_test":
                time.sleep(1.5)  # the grandchild would act 0.5 s after its test ended
            zygote = _zygote_pid(verifier)
            leftovers = _children_of(zygote)
            failures = [
                failure
                for failure in (
                    None
                    if result.verdict in BLOCKED_VERDICTS[name]
                    else f"verdict {result.verdict}",
                    check(result),
                    f"processes left behind: {leftovers}" if leftovers else None,
                    "the zygote was killed" if verifier.sandbox.restarts != restarts else None,
                )
                if failure
            ]
            if name == "setsid_grandchild_outlives_test":
                probe = "import os\nprint(3 if not os.path.exists('/tmp/late') else 'late')\n"
                if verifier.run_tests(probe, "python", ONE, **FAST).verdict != "AC":
                    failures.append("the grandchild wrote into the next test's /tmp")
            honest = verifier.run_tests(HONEST, "python", ONE, **FAST).verdict
            if honest != "AC":
                failures.append(f"an honest solution afterwards got {honest}")
            results[name] = {
                "blocked": not failures,
                "verdict": result.verdict,
                "detail": "; ".join(failures) or None,
            }
            restarts = verifier.sandbox.restarts
    finally:
        host.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--allow-weak", action="store_true")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--only", default="", help="comma-separated attack names")
    args = parser.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="ocr2_attack_cache_")
    report: dict = {"uid": os.geteuid()}
    try:
        with Verifier(
            cache_dir=cache, use_pch=False, allow_weak_isolation=args.allow_weak
        ) as verifier:
            report["layers"] = verifier.isolation
            report["notes"] = verifier.sandbox.notes
            only = [name for name in args.only.split(",") if name]
            report["attacks"] = run_matrix(verifier, only)
    except SandboxUnavailable as error:
        report["unavailable"] = str(error)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()

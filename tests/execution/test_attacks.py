"""Attack suite: hostile solutions get the verdict they deserve and leave the harness and host intact.

Each attack runs in the shared warm sandbox; afterwards `assert_host_intact` checks that no process
with the sandbox uid survives, that the zygote was not restarted (it was not killed), and that an
honest solution still gets AC. Assertions about a layer are made where `verifier.isolation` says the
layer is in force; where the host lacks it the weaker guarantee (uid, rlimits) is asserted instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import pytest

from ocr2_kedro.execution import Verifier
from ocr2_kedro.execution.sandbox import SandboxUnavailable

from .conftest import sandbox_uid_processes

SUM = [{"input": "1 2\n", "output": "3\n"}, {"input": "20 22\n", "output": "42\n"}]
HONEST = "a, b = map(int, input().split())\nprint(a + b)\n"
FAST = {"time_limit_s": 0.5, "memory_limit_mb": 128}
# Output past the cap without holding it in memory (a 100 MB string would be MLE under 128 MB).
STREAMING_OUTPUT = (
    "import sys\nline = 'x' * 65536 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"
)


@pytest.fixture
def assert_host_intact(verifier: Verifier):
    restarts_before = verifier.sandbox.restarts

    def check(zygote_may_restart: bool = False) -> None:
        assert sandbox_uid_processes(verifier.sandbox.uid) == []
        if not zygote_may_restart:
            assert verifier.sandbox.restarts == restarts_before
        assert verifier.run_tests(HONEST, "python", SUM).verdict == "AC"

    return check


def test_isolation_layers_reported(verifier):
    layers = verifier.isolation
    for always in ("session", "rlimits", "empty_env", "close_fds", "no_new_privs"):
        assert always in layers
    # The minimum isolation is in force whoever runs the suite (else the verifier would not start).
    assert {"net_ns", "mount_ns", "minimal_root", "private_tmp", "pid_ns", "nproc_limit"} <= set(
        layers
    )
    if os.geteuid() == 0:
        # Root in this container: a leased uid, and the cgroups this host offers.
        assert "setuid" in layers
        assert "user_ns" not in layers
    else:
        assert {"user_ns", "no_caps"} <= set(layers)


def test_fork_bomb_is_contained(verifier, assert_host_intact):
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "TLE"
    assert_host_intact()


def test_memory_bomb_is_mle(verifier, assert_host_intact):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(8 * 1024 * 1024))\n"
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "MLE"
    assert_host_intact()


@pytest.mark.parametrize("code", ["while True:\n    pass\n", "import time\ntime.sleep(60)\n"])
def test_infinite_loop_and_sleep_are_tle(verifier, assert_host_intact, code):
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "TLE"
    assert result.tests[0].time_s < 10
    assert_host_intact()


def test_huge_stdout_is_ole(verifier, assert_host_intact):
    code = "import sys\nline = 'x' * 65536 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "OLE"
    assert_host_intact()


def test_writes_outside_the_sandbox_do_not_survive(verifier, assert_host_intact, tmp_path):
    marker = f"pwned_{uuid.uuid4().hex}"
    targets = [
        f"/tmp/{marker}",
        f"/var/tmp/{marker}",
        f"/dev/shm/{marker}",
        os.path.join(os.getcwd(), marker),
        str(tmp_path / marker),
        f"/{marker}",
    ]
    code = (
        "import os\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('owned')\n"
        "    except OSError:\n"
        "        pass\n"
        "print(3)\n"
    )
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "AC"
    for target in targets:
        assert not os.path.exists(target), target
    # What the first run left in its private /tmp is gone for the next run too.
    probe = f"import os\nprint(int(os.path.exists('/tmp/{marker}')) + 3)\n"
    assert verifier.run_tests(probe, "python", SUM[:1], **FAST).verdict == "AC"
    assert_host_intact()


@pytest.mark.parametrize(
    "attack",
    [
        "os.kill(os.getppid(), signal.SIGKILL)",
        "os.killpg(0, signal.SIGKILL)",
        "os.kill(-1, signal.SIGKILL)",
        "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
    ],
)
def test_killing_parent_group_or_everything_fails(verifier, assert_host_intact, attack):
    code = f"import os, signal\ntry:\n    {attack}\nexcept OSError:\n    pass\nprint(int(input().split()[0]) + 2)\n"
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    # Killing the own group / every own-uid process kills the solution itself: RE; the zygote is untouched.
    assert result.verdict in ("AC", "RE")
    if "getppid" in attack and "setuid" in verifier.isolation:
        assert result.verdict == "AC"
    assert_host_intact()


def test_loopback_listener_is_unreachable(verifier, assert_host_intact):
    if "net_ns" not in verifier.isolation:
        pytest.skip("no network namespace on this host")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []

    def accept() -> None:
        listener.settimeout(3)
        with contextlib.suppress(OSError):
            accepted.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=0.3)\n"
        "    print('connected')\n"
        "except OSError:\n"
        "    print(3)\n"
    )
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    thread.join()
    listener.close()
    assert result.verdict == "AC"
    assert accepted == []
    assert_host_intact()


def test_parent_environment_is_not_readable(verifier, assert_host_intact, monkeypatch):
    secret = f"ocr2secret{uuid.uuid4().hex}"
    monkeypatch.setenv("OCR2_TEST_SECRET", secret)
    code = (
        "import os\n"
        "seen = ' '.join(f'{k}={v}' for k, v in os.environ.items())\n"
        f"for pid in ('self', str(os.getppid()), '{os.getpid()}', '1'):\n"
        "    try:\n"
        "        seen += open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1')\n"
        "    except OSError:\n"
        "        pass\n"
        "print(seen if 'OCR2_TEST_SECRET' in seen else 3)\n"
    )
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "AC"
    assert_host_intact()


def test_walking_frames_and_heap_finds_no_expected_output(verifier, assert_host_intact):
    expected = f"expected{uuid.uuid4().hex}"
    code = (
        "import gc, sys\n"
        "found = None\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):\n"
        "        if isinstance(value, str) and value.startswith('expected'):\n"
        "            found = value\n"
        "    frame = frame.f_back\n"
        "for obj in gc.get_objects():\n"
        "    for item in (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()):\n"
        "        if isinstance(item, str) and item.startswith('expected') and len(item) == 40:\n"
        "            found = item\n"
        "print(found)\n"
    )
    result = verifier.run_tests(code, "python", [{"input": "", "output": expected}], **FAST)
    assert result.verdict == "WA"
    assert_host_intact()


def test_test_files_on_disk_are_not_readable(verifier, assert_host_intact, tmp_path):
    expected = f"expected{uuid.uuid4().hex}"
    places = [
        tmp_path / "tests.json",
        os.path.join(os.getcwd(), f".ocr2_attack_{uuid.uuid4().hex}.json"),
    ]
    for place in places:
        with open(place, "w") as handle:
            handle.write(expected)
        os.chmod(place, 0o644)
    try:
        code = (
            "import glob\n"
            "found = 'nothing'\n"
            f"for path in {[str(p) for p in places]!r} + glob.glob('/tmp/**/*.json', recursive=True):\n"
            "    try:\n"
            "        found = open(path).read()\n"
            "    except OSError:\n"
            "        pass\n"
            "print(found)\n"
        )
        result = verifier.run_tests(code, "python", [{"input": "", "output": expected}], **FAST)
        if "mount_ns" in verifier.isolation:
            assert result.verdict == "WA"
    finally:
        for place in places:
            os.unlink(place)
    assert_host_intact()


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit"])
def test_exiting_early_does_not_fake_success(verifier, assert_host_intact, exit_call):
    code = f"import os, sys\n{exit_call}\n"
    assert verifier.run_tests(code, "python", SUM, **FAST).verdict == "WA"
    functional = f"import os, sys\ndef add(a, b):\n    {exit_call}\n"
    tests = [{"input": "[1, 2]", "output": "3"}]
    result = verifier.run_tests(
        functional, "python", tests, test_type="functional", fn_name="add", **FAST
    )
    assert result.verdict in ("RE", "WA")
    assert_host_intact()


@pytest.mark.parametrize(
    "returned",
    [
        "AlwaysEqual()",
        "EqualList([0])",
        "type('X', (str,), {'__eq__': lambda s, o: True})('nope')",
    ],
)
def test_always_equal_objects_fail_functional(verifier, assert_host_intact, returned):
    code = (
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "class EqualList(list):\n    def __eq__(self, other):\n        return True\n"
        f"class Solution:\n    def solve(self, n):\n        return {returned}\n"
    )
    tests = [{"input": "[5]", "output": "[1, 2, 3]"}]
    result = verifier.run_tests(
        code, "python", tests, test_type="functional", fn_name="solve", **FAST
    )
    assert result.verdict in ("RE", "WA")
    assert_host_intact()


def test_many_busy_threads_are_tle(verifier, assert_host_intact):
    code = (
        "import threading\n"
        "def spin():\n    while True:\n        pass\n"
        "for _ in range(40):\n    threading.Thread(target=spin, daemon=True).start()\n"
        "spin()\n"
    )
    result = verifier.run_tests(code, "python", SUM[:1], **FAST)
    assert result.verdict == "TLE"
    assert_host_intact()


def test_cpp_segfault_fork_bomb_and_compile_error(verifier, assert_host_intact):
    segfault = "int main(){ volatile int *p = nullptr; *p = 1; return 0; }"
    assert verifier.run_tests(segfault, "cpp", SUM[:1], **FAST).verdict == "RE"
    fork_bomb = "#include <unistd.h>\nint main(){ while (true) fork(); }"
    assert verifier.run_tests(fork_bomb, "cpp", SUM[:1], **FAST).verdict == "TLE"
    broken = "int main() { this is not c++ }"
    result = verifier.run_tests(broken, "cpp", SUM, **FAST)
    assert result.verdict == "CE"
    assert "error" in result.error
    memory_bomb = "#include <vector>\nint main(){ std::vector<char*> v; while (true) { char* p = new char[1<<24]; for (int i = 0; i < (1<<24); i += 4096) p[i] = 1; v.push_back(p);} }"
    assert verifier.run_tests(memory_bomb, "cpp", SUM[:1], **FAST).verdict == "MLE"
    assert_host_intact()


def test_cpp_cannot_include_files_outside(verifier, assert_host_intact, tmp_path):
    secret = tmp_path / "answers.txt"
    secret.write_text('"3"\n')
    code = f'#include <cstdio>\nint main(){{ const char* answer =\n#include "{secret}"\n; puts("3"); }}'
    result = verifier.run_tests(code, "cpp", SUM[:1], **FAST)
    if "mount_ns" in verifier.isolation:
        assert result.verdict == "CE"
    assert_host_intact()


def test_zygote_death_is_retried_not_blamed(verifier):
    os.kill(verifier.sandbox._process.pid, 9)
    verifier.sandbox._process.wait()
    result = verifier.run_tests(HONEST, "python", SUM)
    assert result.verdict == "AC"
    assert verifier.sandbox.restarts >= 1


def test_degraded_mode_without_namespaces_uid_or_cgroups(cpp_cache_dir):
    """What a host without those layers gets: rlimits, session, private dir, empty env still hold."""
    with (
        pytest.raises(SandboxUnavailable, match="allow_weak_isolation"),
        Verifier(
            cache_dir=str(cpp_cache_dir), disable=("namespaces", "setuid", "cgroups")
        ) as refused,
    ):
        refused.run_tests(HONEST, "python", SUM)
    with Verifier(
        cache_dir=str(cpp_cache_dir),
        disable=("namespaces", "setuid", "cgroups"),
        allow_weak_isolation=True,
    ) as degraded:
        layers = degraded.isolation
        lacking = {"net_ns", "mount_ns", "minimal_root", "private_tmp", "pid_ns", "setuid"}
        assert not (lacking | {"cgroup_memory", "cgroup_pids", "nproc_limit"}) & set(layers)
        assert {"rlimits", "session", "empty_env"} <= set(layers)
        assert degraded.run_tests(HONEST, "python", SUM).verdict == "AC"
        assert (
            degraded.run_tests("while True:\n    pass\n", "python", SUM[:1], **FAST).verdict
            == "TLE"
        )
        assert degraded.run_tests(STREAMING_OUTPUT, "python", SUM[:1], **FAST).verdict == "OLE"
        # Without a memory cgroup only the address-space backstop (limit + 1 GiB) stops the bomb:
        # it zero-fills ~1 GiB first (0.7 s of CPU here, more on a busy host), so the time limit
        # is wide enough that the verdict is about memory, not time.
        memory_bomb = "blocks = []\nwhile True:\n    blocks.append(bytearray(8 * 1024 * 1024))\n"
        assert (
            degraded.run_tests(
                memory_bomb, "python", SUM[:1], time_limit_s=10, memory_limit_mb=64
            ).verdict
            == "MLE"
        )
        env = "import os\nprint(3 if set(os.environ) <= {'PATH', 'LANG', 'HOME', 'TMPDIR'} else 0)"
        assert degraded.run_tests(env, "python", SUM[:1], **FAST).verdict == "AC"
    with pytest.raises(ValueError, match="unknown sandbox layers"):
        Verifier(cache_dir=str(cpp_cache_dir), disable=("seccomp",))

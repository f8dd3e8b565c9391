"""What one zygote reuses from test to test (working directory path, cgroups, environment, standard
streams, private tmpfs) carries nothing from one test to the next, and every test is still its own
process under the same limits."""

from __future__ import annotations

import os
import sys

import pytest

from ocr2_kedro.execution import _zygote

from .conftest import sandbox_uid_processes

SLOW_OK = {"time_limit_s": 5.0, "memory_limit_mb": 256}


def _same_input_tests(count: int, output: str) -> list[dict]:
    return [{"input": f"{index}\n", "output": output} for index in range(count)]


def test_files_from_one_test_are_gone_for_the_next(verifier):
    code = (
        "import os\n"
        "places = ['mark', 'sub/mark', '/tmp/mark', '/var/tmp/mark', '/dev/shm/mark',\n"
        "          os.path.join(os.environ['HOME'], 'home_mark')]\n"
        "left = [p for p in places + ['/tmp/moved_in', '/tmp/linked'] if os.path.exists(p)]\n"
        "print(len(left), len(os.listdir('.')))\n"
        "os.mkdir('sub')\n"
        "for path in places:\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('from an earlier test')\n"
        "    except OSError:\n"
        "        pass\n"
        "os.rename('mark', '/tmp/moved_in')\n"
        "os.link('sub/mark', '/tmp/linked')\n"
    )
    result = verifier.run_tests(code, "python", _same_input_tests(4, "0 0"))
    assert [t.verdict for t in result.tests] == ["AC"] * 4, result.error


def test_environment_and_working_directory_per_test(verifier):
    code = (
        "import os, stat\n"
        "info = os.stat('.')\n"
        "ok = (sorted(os.environ) == ['HOME', 'LANG', 'PATH', 'TMPDIR']\n"
        "      and os.environ['HOME'] == os.environ['TMPDIR'] == os.getcwd()\n"
        "      and os.listdir('.') == [] and info.st_uid == os.getuid()\n"
        "      and stat.S_IMODE(info.st_mode) == 0o700)\n"
        "print(int(ok))\n"
        "os.chmod('.', 0o777)\n"
        "os.environ['LEAK'] = '1'\n"
        "open('junk', 'w').close()\n"
    )
    result = verifier.run_tests(code, "python", _same_input_tests(3, "1"))
    assert result.verdict == "AC", result.error


def test_interpreter_state_is_not_shared_between_tests(verifier):
    # Each test is its own forked process: module state, sys settings and open files of one test
    # are not seen by the next.
    code = (
        "import collections, sys\n"
        "print(getattr(collections, 'seen', 0), sys.getrecursionlimit())\n"
        "collections.seen = 1\n"
        "sys.setrecursionlimit(50000)\n"
        "keep = open('/tmp/held', 'w')\n"
    )
    result = verifier.run_tests(code, "python", _same_input_tests(3, "0 10000"))
    assert result.verdict == "AC", result.error


def test_standard_streams_start_fresh_in_every_test(verifier):
    # The child's sys.stdin/stdout/stderr are built once in the zygote: a test that leaves
    # unflushed output or half-read input behind must not affect the next one.
    code = (
        "import os, sys\n"
        "first = sys.stdin.readline().strip()\n"
        "if first == 'junk':\n"
        "    sys.stdout.write('left in the buffer')\n"
        "    sys.stderr.write('partial')\n"
        "    os._exit(0)\n"
        "rest = sys.stdin.read().split()\n"
        "print(first, len(rest), sys.stdout.isatty(), sys.stdin.seekable(), sys.stdout.seekable())\n"
    )
    tests = [
        {"input": "junk\n1 2 3\n", "output": ""},
        {"input": "a\nb c\n", "output": "a 2 False True False"},
        {"input": "junk\n", "output": ""},
        {"input": "z\n", "output": "z 0 False True False"},
    ]
    result = verifier.run_tests(code, "python", tests)
    assert [t.verdict for t in result.tests] == ["AC"] * 4, result.error


def test_memory_limit_holds_after_a_test_filled_the_tmpfs(verifier):
    # tmpfs pages are charged to the (reused) memory cgroup: the next test must get its whole limit
    # back, and the limit must still stop a hog.
    code = (
        "mode = input().strip()\n"
        "if mode == 'fill':\n"
        "    for index in range(12):\n"
        "        with open(f'/dev/shm/fill{index}', 'wb') as handle:\n"
        "            handle.write(b'x' * (15 << 20))\n"
        "elif mode == 'use':\n"
        "    block = bytearray(200 << 20)\n"
        "    block[::4096] = b'y' * len(block[::4096])\n"
        "else:\n"
        "    hog = [bytearray(1 << 20) for _ in range(1024)]\n"
        "print('ok')\n"
    )
    modes = ["fill", "use", "fill", "use", "hog", "use"]
    tests = [{"input": mode + "\n", "output": "ok"} for mode in modes]
    result = verifier.run_tests(code, "python", tests, **SLOW_OK)
    assert [t.verdict for t in result.tests] == ["AC", "AC", "AC", "AC", "MLE", "AC"], result.error


def test_deeply_nested_directories_are_removed(verifier):
    # Deeper than shutil.rmtree can recurse: the zygote must still empty the directories, keep
    # serving without a restart, and show the next test nothing.
    code = (
        "import os\n"
        "print(int(os.path.exists('/tmp/deep') or os.path.exists('deep')))\n"
        "for root in ('/tmp/deep', 'deep'):\n"
        "    here = os.getcwd()\n"
        "    os.mkdir(root)\n"
        "    os.chdir(root)\n"
        "    for _ in range(12000):\n"
        "        os.mkdir('d')\n"
        "        os.chdir('d')\n"
        "    open('leaf', 'w').close()\n"
        "    os.chdir(here)\n"
    )
    restarts = verifier.sandbox.restarts
    result = verifier.run_tests(code, "python", _same_input_tests(2, "0"), **SLOW_OK)
    assert result.verdict == "AC", result.error
    assert verifier.sandbox.restarts == restarts
    assert sandbox_uid_processes(verifier.sandbox.uid) == []


def test_remove_tree_is_iterative_and_does_not_follow_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    tree = tmp_path / "tree"
    tree.mkdir()
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(3000):  # deeper than PATH_MAX allows to name
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(os.open("file", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    (tree / "link_to_outside").symlink_to(outside)
    (tree / "file_link").symlink_to(outside / "keep.txt")
    os.mkfifo(tree / "fifo")
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(200)
        _zygote.remove_tree(str(tree))
    finally:
        sys.setrecursionlimit(limit)
    assert not tree.exists()
    assert (outside / "keep.txt").read_text() == "keep"
    link = tmp_path / "lonely_link"
    link.symlink_to(outside)
    _zygote.remove_tree(str(link))
    assert not link.is_symlink() and outside.is_dir()
    _zygote.remove_tree(str(tmp_path / "missing"))


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_each_test_runs_in_its_own_process(verifier, language):
    python = "import os\nprint(os.getpid() != os.getppid(), os.getpgrp() == os.getpid())\n"
    cpp = (
        "#include <cstdio>\n#include <unistd.h>\n"
        'int main(){ printf("%s %s\\n", getpid() != getppid() ? "True" : "False",'
        ' getpgrp() == getpid() ? "True" : "False"); }'
    )
    code = python if language == "python" else cpp
    result = verifier.run_tests(code, language, _same_input_tests(3, "True True"))
    assert result.verdict == "AC", result.error


def test_only_the_standard_fds_are_open_in_a_test(verifier):
    # No fd of the zygote (its request pipe, cgroup files, cache directory) reaches a solution.
    python = (
        "import os\n"
        "def open_fds():\n"
        "    found = []\n"
        "    for fd in range(3, 1024):\n"
        "        try:\n"
        "            os.fstat(fd)\n"
        "        except OSError:\n"
        "            continue\n"
        "        found.append(fd)\n"
        "    return found\n"
    )
    stdin = python + "print(open_fds())\n"
    # Three tests: the first compiles and sends on the code object, the others only load it.
    result = verifier.run_tests(stdin, "python", [{"input": "", "output": "[]"}] * 3)
    assert result.verdict == "AC", result.error
    # Functional tests get exactly one more: the result pipe on fd 3.
    functional = python + "def fds(x):\n    return open_fds()\n"
    result = verifier.run_tests(
        functional, "python", [{"input": "[0]", "output": "[3]"}], "functional", "fds"
    )
    assert result.verdict == "AC", result.error
    cpp = (
        "#include <cstdio>\n#include <fcntl.h>\n"
        "int main(){ int n = 0; for (int fd = 3; fd < 1024; ++fd) n += fcntl(fd, F_GETFD) != -1;"
        ' printf("%d\\n", n); }'
    )
    result = verifier.run_tests(cpp, "cpp", [{"input": "", "output": "0"}])
    assert result.verdict == "AC", result.error


def test_solution_is_compiled_once_per_request(verifier):
    # Compile-time warnings show which child compiled: only the first test's; the others run the
    # code object it sent on (marshalled before any of the solution ran).
    code = "x = input()\nprint('a' if x == 'a' else 1 is 1)\n"
    later_fails = [{"input": "a", "output": "a"}, {"input": "b", "output": "wrong"}]
    result = verifier.run_tests(code, "python", later_fails)
    assert [t.verdict for t in result.tests] == ["AC", "WA"]
    assert "SyntaxWarning" not in (result.error or "")
    first_fails = [{"input": "b", "output": "wrong"}, {"input": "a", "output": "a"}]
    result = verifier.run_tests(code, "python", first_fails)
    assert [t.verdict for t in result.tests] == ["WA", "AC"]
    assert "SyntaxWarning" in result.error
    # A syntax error is still reported by every test (nothing compiled to pass on).
    broken = verifier.run_tests("print(", "python", first_fails)
    assert [t.verdict for t in broken.tests] == ["RE", "RE"]
    assert "SyntaxError" in broken.error

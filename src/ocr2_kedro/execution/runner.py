"""Judge one solution against its tests: compile (C++), run in the sandbox, classify, compare."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field, replace

from .checker import (
    CHECKER_ARGS,
    CHECKER_FILES,
    CHECKER_LIMITS,
    CHECKER_PRELUDE,
    PYTHON_CHECKER_CRASH,
    CheckerUnavailable,
    CheckerVerdict,
    Judging,
    checker_verdict,
    testlib_header,
)
from .compare import COMPARE_MODES, compare_json, compare_stdout, dump_json, load_json
from .sandbox import (
    Limits,
    Sandbox,
    SandboxError,
    SandboxUnavailable,
    default_cache_dir,
    log_once,
    which_or_none,
)

logger = logging.getLogger(__name__)

CPP_FLAGS = ("-O2", "-std=c++17", "-pipe")
# Compiled into every C++ program (`-include`, in the precompiled header where there is one): a new
# thread's default stack is 8 MiB, as on a usual Linux host. glibc would give each thread the main
# thread's stack limit (the memory limit, for deep recursion), and every thread reserves its stack
# in the address space, whose backstop is the memory limit + 1 GiB: 8 threads under 256 MB could
# not start (RE). The program can still set its own size.
CPP_PRELUDE = """#include <pthread.h>
namespace {
struct OcrSandboxThreadStack {
  OcrSandboxThreadStack() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
      pthread_attr_setstacksize(&attr, 8u << 20);
      pthread_setattr_default_np(&attr);
      pthread_attr_destroy(&attr);
    }
  }
} ocr_sandbox_thread_stack;
}  // namespace
"""
COMPILE_LIMITS = Limits(
    time_limit_s=30.0, memory_limit_mb=2048, output_limit_mb=1, file_size_mb=512, processes=32
)
SE_RETRIES = 2
# Wall deadline when a wall_factor is given: max(wall_factor x limit, limit + this). Covers the
# child's start (fork, exec) and the zygote's wake-up, so that a solution under the limit is not
# cut off; a timed-out test then costs about the limit instead of up to twice it.
CHEAP_WALL_SLACK_S = 0.1
# The wall_factor of stop_at_first_failure when none is given: evaluation wants verdicts fast, and
# LiveCodeBench's harness gives each test exactly the limit (a wall-clock alarm).
FAST_WALL_FACTOR = 1.0


@dataclass
class TestOutcome:
    verdict: str
    time_s: float
    # In [0, 1]: a checker's partial score where it gives one, else 1.0 for AC and 0.0 otherwise.
    score: float | None = None

    def __post_init__(self) -> None:
        if self.score is None:
            self.score = 1.0 if self.verdict == "AC" else 0.0


@dataclass
class RunResult:
    """`tests` holds the outcomes of the tests that ran: all of them, or with stop_at_first_failure
    those up to and including the first failing one (then `pass_rate` = passed / total is a lower
    bound of the full run's, while pass/fail, `verdict == "AC"`, is exact)."""

    # None (with pass_rate None) only when the problem was not judged: it needs a checker and
    # ships none (`judged_by` "unjudged").
    verdict: str | None
    passed: int
    total: int
    pass_rate: float | None
    tests: list[TestOutcome] = field(default_factory=list)
    error: str | None = None
    isolation: list[str] = field(default_factory=list)
    compile_s: float | None = None
    # How outputs were judged (schemas.VERIFICATION.judged_by): "tokens" | "lines" | "json" |
    # "checker" | "unjudged".
    judged_by: str | None = None

    def to_row(self) -> dict:
        row = asdict(self)
        row.pop("compile_s")
        return row


def internal_error_result(error: BaseException, total: int) -> RunResult:
    """The SE result of a solution whose judging raised (a fault here, not the solution's): the
    error's type and message on the row, the traceback logged once per error type."""
    kind = type(error).__name__
    if kind not in _reported_errors:
        _reported_errors.add(kind)
        logger.warning("judging a solution raised %s; it is judged SE", kind, exc_info=error)
    return RunResult(
        "SE", 0, total, 0.0, [TestOutcome("SE", 0.0)] * total, f"internal error: {kind}: {error}"
    )


_reported_errors: set[str] = set()


class BadProblem(ValueError):
    """The problem (not the solution) is unusable: no tests, malformed JSON, unknown type."""


@dataclass(frozen=True)
class PreparedTest:
    stdin: bytes
    expected: object  # str for stdin tests, a parsed JSON value for functional ones


def _parse_functional_args(text: str) -> list:
    """A functional test's input as the problem contract states it: a JSON array of the arguments
    (`[[1, 2, 3]]` is one list argument). Anything else is a BadProblem: guessing (a bare value as
    the only argument, one argument per line) misreads a single list argument `[1, 2, 3]` as three
    arguments. Ingestion turns LiveCodeBench's one-argument-per-line text into the array."""
    # ValueError: JSONDecodeError or a non-str input; RecursionError: nesting deeper than Python's.
    try:
        value = load_json(text)
    except (ValueError, TypeError, RecursionError) as error:
        raise BadProblem(
            "functional test input is not JSON (the contract wants a JSON array of the "
            f"arguments): {error}"
        ) from error
    if not isinstance(value, list):
        raise BadProblem(
            f"functional test input is a JSON {type(value).__name__}; the contract wants a JSON "
            "array of the arguments (re-run ingestion to normalize the source's format)"
        )
    return value


def prepare_tests(
    tests: list[dict] | None, test_type: str, fn_name: str | None
) -> list[PreparedTest]:
    if not tests:
        raise BadProblem("problem has no tests")
    if test_type not in ("stdin", "functional"):
        raise BadProblem(f"unknown test_type {test_type!r}")
    if test_type == "functional" and not fn_name:
        raise BadProblem("functional problem without fn_name")
    prepared = []
    for index, test in enumerate(tests):
        if not isinstance(test, dict) or test.get("input") is None or test.get("output") is None:
            raise BadProblem(f"test {index} lacks input or output")
        if test_type == "stdin":
            prepared.append(PreparedTest(str(test["input"]).encode(), str(test["output"])))
            continue
        args = _parse_functional_args(test["input"])
        try:
            expected = load_json(test["output"])
            arguments = dump_json(args)
        except (ValueError, TypeError, RecursionError) as error:
            raise BadProblem(f"test {index} expected output is not JSON: {error}") from error
        prepared.append(PreparedTest((arguments + "\n").encode(), expected))
    return prepared


def _allow(path: str, bits: int) -> None:
    """Add permission bits so that the unprivileged sandbox uid can reach the precompiled header (a
    cache directory from mkdtemp is 0700: the compiler would silently fall back to the ~5x slower
    full parse of <bits/stdc++.h>). Search/read only: nothing in the cache is secret."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode & 0o7777
        if mode & bits != bits:
            os.chmod(path, mode | bits)


class CompileCache:
    """C++ binaries keyed by sha256(source, flags, compiler identity), shared by every sandbox that
    uses the same cache directory. Compilation itself runs inside the sandbox (untrusted source)."""

    def __init__(
        self, cache_dir: str, flags: tuple[str, ...] = CPP_FLAGS, use_pch: bool = True
    ) -> None:
        self.cache_dir = os.path.realpath(cache_dir)
        os.makedirs(self.cache_dir, exist_ok=True)
        _allow(self.cache_dir, 0o111)
        self.flags = tuple(flags)
        self.compiler = which_or_none("g++")
        self.compiler_id = self._compiler_identity()
        self.use_pch = use_pch
        self._pch_header: str | None = None
        self._pch_ready = False
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _compiler_identity(self) -> str:
        if not self.compiler:
            return "missing"
        version = subprocess.run(
            [self.compiler, "--version"], capture_output=True, text=True, check=False
        )
        stat = os.stat(self.compiler)
        return f"{self.compiler}|{version.stdout.splitlines()[0] if version.stdout else ''}|{stat.st_mtime_ns}"

    def key(self, source: str, files: tuple[tuple[str, bytes], ...] = ()) -> str:
        """The cache key of `source` compiled with `files` (graders, testlib.h) beside it."""
        parts: list = [source, list(self.flags), self.compiler_id, CPP_PRELUDE]
        if files:
            parts.append([[name, hashlib.sha256(data).hexdigest()] for name, data in files])
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def prelude_header(self) -> str:
        """`CPP_PRELUDE` as a header file in the cache (trusted, written once, read-only)."""
        digest = hashlib.sha256(CPP_PRELUDE.encode()).hexdigest()[:16]
        header = os.path.join(self.cache_dir, f"prelude-{digest}.h")
        if not os.path.exists(header):
            temp = f"{header}.{os.getpid()}.{threading.get_ident()}"
            with open(temp, "w") as handle:
                handle.write(CPP_PRELUDE)
            _allow(temp, 0o444)
            os.replace(temp, header)
        return header

    def pch_header(self) -> str | None:
        """Build (once, trusted input) a precompiled <bits/stdc++.h> for these flags; None if it fails."""
        if not self.use_pch or not self.compiler:
            return None
        with self._guard:
            if self._pch_ready:
                return self._pch_header
            digest = hashlib.sha256(
                json.dumps([list(self.flags), self.compiler_id, CPP_PRELUDE]).encode()
            ).hexdigest()[:16]
            directory = os.path.join(self.cache_dir, f"pch-{digest}")
            header = os.path.join(directory, "stdcpp.h")
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, ".lock"), "w") as lock_handle:
                fcntl.flock(lock_handle, fcntl.LOCK_EX)
                if not os.path.exists(header + ".gch"):
                    with open(header, "w") as handle:
                        handle.write("#include <bits/stdc++.h>\n" + CPP_PRELUDE)
                    built = subprocess.run(
                        [
                            self.compiler,
                            *self.flags,
                            "-x",
                            "c++-header",
                            header,
                            "-o",
                            header + ".gch.tmp",
                        ],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if built.returncode == 0:
                        os.replace(header + ".gch.tmp", header + ".gch")
                    else:
                        log_once(
                            f"precompiled header build failed, compiling without: {built.stderr[:500]}"
                        )
            self._pch_ready = True
            self._pch_header = header if os.path.exists(header + ".gch") else None
            if self._pch_header:
                _allow(directory, 0o555)
                _allow(header, 0o444)
                _allow(header + ".gch", 0o444)
            return self._pch_header

    def compile(
        self,
        sandbox: Sandbox,
        source: str,
        files: tuple[tuple[str, bytes], ...] = (),
        sources: tuple[str, ...] = (),
    ) -> tuple[str | None, str | None, float]:
        """Return (binary key, None, seconds) or (None, compiler error, seconds). `files` (name,
        bytes) are written next to the source; those named in `sources` are compiled and linked
        with it (IOI graders). Cached by the source and the files together."""
        if not self.compiler:
            raise SandboxError("no C++ compiler (g++) on this host")
        key = self.key(source, files)
        binary = os.path.join(self.cache_dir, key)
        error_file = binary + ".err"
        with self._lock_for(key):
            if os.path.exists(binary):
                return key, None, 0.0
            if os.path.exists(error_file):
                with open(error_file, encoding="utf-8", errors="replace") as handle:
                    return None, handle.read(), 0.0
            attempts = []
            header = self.pch_header()
            if header:
                attempts.append([self.compiler, *self.flags, "-include", header])
            attempts.append([self.compiler, *self.flags, "-include", self.prelude_header()])
            started = time.perf_counter()
            outcome, diagnostics = sandbox.compile(
                source.encode(), key, attempts, COMPILE_LIMITS, files, sources
            )
            seconds = time.perf_counter() - started
            if outcome.get("setup_error"):
                raise SandboxError(f"compiler sandbox set-up failed: {outcome['setup_error']}")
            if outcome["exit_code"] == 0 and os.path.exists(binary):
                return key, None, seconds
            if outcome["timed_out"] or outcome["signal"] is not None:
                # Not cached: a compiler killed by a limit may succeed on a quieter machine.
                reason = (
                    "timed out" if outcome["timed_out"] else f"killed by signal {outcome['signal']}"
                )
                return None, f"compiler {reason}", seconds
            text = diagnostics.decode("utf-8", errors="replace")
            message = source_diagnostics(text)
            if message is None:
                # Not the source's fault as far as the compiler says (no process slot, a missing
                # tool, an out-of-memory message): never cached, and judged SE after retries.
                first = next((line for line in text.splitlines() if line.strip()), "no output")
                raise SandboxError(
                    f"compiler exited {outcome['exit_code']} without a diagnostic on the source: "
                    f"{first[:200]}"
                )
            temp = f"{error_file}.{os.getpid()}.{threading.get_ident()}"
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(message)
            os.replace(temp, error_file)
            return None, message, seconds


SOURCE_NAME = "solution.cpp"
LINKER_MARKERS = ("undefined reference to", "multiple definition of", "collect2: error:")
# "file:line:col: error: ..." (or "fatal error") about any file: the compiler judged the source.
FILE_DIAGNOSTIC = re.compile(r"^[^\s:][^:]*:\d+(?::\d+)?: (?:fatal )?error: ")
DIAGNOSTIC_LINES = 30
DIAGNOSTIC_CHARS = 2000


def source_diagnostics(text: str) -> str | None:
    """The compiler's diagnostics when it judged the source (an error at a line of the solution or
    of a file it includes, or the linker's about its symbols), keeping only the lines about the
    solution's own file, cut short; None when the compiler said nothing of the kind (it could not
    run: no process slot, a missing tool, killed). Lines about other files are left out, so a
    solution that includes a host file cannot copy its contents into the table."""
    lines = text.splitlines()
    judged = any(
        FILE_DIAGNOSTIC.match(line) or any(marker in line for marker in LINKER_MARKERS)
        for line in lines
    )
    if not judged:
        return None
    kept = [
        line
        for line in lines
        if line.startswith(f"{SOURCE_NAME}:")
        or line.startswith(f"In file included from {SOURCE_NAME}:")
        or any(marker in line for marker in LINKER_MARKERS)
    ]
    elsewhere = sum(
        bool(FILE_DIAGNOSTIC.match(line)) and not line.startswith(f"{SOURCE_NAME}:")
        for line in lines
    )
    if elsewhere:
        kept.append(f"({elsewhere} errors in included files, not shown)")
    message = "\n".join(kept[:DIAGNOSTIC_LINES])
    return message if len(message) <= DIAGNOSTIC_CHARS else message[:DIAGNOSTIC_CHARS] + " ..."


def classify(outcome: dict, stderr: bytes, limits: Limits, language: str) -> str | None:
    """Verdict from how the process ended, or None when it ended normally (then compare output).
    SE only from the sandbox's own channel (`setup_error`): nothing the program prints or exits
    with can make its run a sandbox fault."""
    if outcome.get("setup_error"):
        return "SE"
    if outcome["output_exceeded"]:
        return "OLE"
    signal_number = outcome["signal"]
    # Killed by the memory cgroup: MLE, even when reclaim before the kill pushed its CPU time (the
    # kernel's page zeroing and reclaim count as the process's) over the limit on a busy host.
    if (outcome["oom_killed"] or outcome.get("memory_exceeded")) and not outcome["timed_out"]:
        return "MLE"
    if (
        outcome["timed_out"]
        or outcome["cpu_s"] > limits.time_limit_s
        or signal_number == signal.SIGXCPU
    ):
        return "TLE"
    if language == "python" and b"MemoryError" in stderr[-2000:]:
        return "MLE"
    if language == "cpp" and b"std::bad_alloc" in stderr[-2000:]:
        return "MLE"
    if outcome["max_rss_kb"] * 1024 > limits.memory_limit_mb * 1024 * 1024:
        return "MLE"
    if signal_number == signal.SIGXFSZ:
        return "OLE"
    if signal_number is not None or outcome["exit_code"] != 0:
        return "RE"
    return None


class Verifier:
    """A sandbox plus the compile cache: judges solutions one after another (one per worker)."""

    def __init__(
        self,
        cache_dir: str | None = None,
        compare_mode: str = "tokens",
        tolerance: float = 1e-6,
        use_pch: bool = True,
        compile_cache: CompileCache | None = None,
        disable: tuple[str, ...] = (),
        allow_weak_isolation: bool = False,
        uid_range: str | None = None,
    ) -> None:
        """`allow_weak_isolation`: run even where the host cannot give the minimum isolation
        (`sandbox.REQUIRED_LAYERS`); otherwise the first solution raises `SandboxUnavailable`.
        `uid_range` ("first-last"): host uids leased to sandboxes when running as root."""
        if compare_mode not in COMPARE_MODES:
            raise ValueError(f"compare_mode must be one of {COMPARE_MODES}, not {compare_mode!r}")
        cache_dir = cache_dir or default_cache_dir()
        self.compile_cache = compile_cache or CompileCache(cache_dir, use_pch=use_pch)
        self.sandbox = Sandbox(
            self.compile_cache.cache_dir,
            disable=disable,
            allow_weak_isolation=allow_weak_isolation,
            uid_range=uid_range,
        )
        self.compare_mode = compare_mode
        self.tolerance = tolerance

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def isolation(self) -> list[str]:
        return self.sandbox.ensure_started()

    def run_tests(
        self,
        code: str | None,
        language: str,
        tests: list[dict] | None,
        test_type: str = "stdin",
        fn_name: str | None = None,
        time_limit_s: float = 2.0,
        memory_limit_mb: int = 256,
        compare_mode: str | None = None,
        stop_at_first_failure: bool = False,
        wall_factor: float | None = None,
        judging: Judging | None = None,
    ) -> RunResult:
        """Judge `code` on `tests` (see the package doc).

        Settings that cannot work (compare_mode, wall_factor) raise; whatever else goes wrong while
        judging this one solution becomes its SE result with the error's type and message, at once
        (SandboxErrors are retried inside; an error of this code is deterministic). Only
        `SandboxUnavailable` (the host cannot give the required isolation) ends the run.

        stop_at_first_failure: run the tests in order, one at a time, and stop at the first that is
        not AC: `verdict` is that test's, `passed` the number before it, `tests` the outcomes that
        ran, `total` still the number of tests. For pass@k, where only pass/fail counts.
        wall_factor: the wall deadline of a test becomes max(wall_factor x time limit, time limit +
        CHEAP_WALL_SLACK_S) instead of max(2 x limit, limit + 1 s); with stop_at_first_failure it
        defaults to FAST_WALL_FACTOR (1.0), so that a time-out costs about the limit. A solution
        that spends most of the limit waiting for the CPU on an overloaded host can then be TLE,
        as under a wall-clock alarm: give a larger factor there.
        judging: the problem's own options (`checker.Judging`: its checker, float tolerance, IOI
        grader files, whether it needs a checker); None judges by text with the defaults.
        """
        if compare_mode is not None and compare_mode not in COMPARE_MODES:
            raise ValueError(f"compare_mode must be one of {COMPARE_MODES}, not {compare_mode!r}")
        if wall_factor is not None and not wall_factor > 0:
            raise ValueError(f"wall_factor must be positive, not {wall_factor!r}")
        judging = judging or Judging()
        judged_by = judged_by_for(judging, test_type or "stdin", compare_mode or self.compare_mode)
        arguments = (code, language, tests, test_type, fn_name, time_limit_s, memory_limit_mb)
        try:
            result = self._run_tests(
                *arguments, compare_mode, stop_at_first_failure, wall_factor, judging
            )
        except SandboxUnavailable:
            raise  # the host cannot give the required isolation: the run stops, by design
        except Exception as error:  # noqa: BLE001 - one solution never ends a run
            result = internal_error_result(error, len(tests) if isinstance(tests, list) else 0)
        if result.judged_by is None:
            result.judged_by = judged_by
        return result

    def _run_tests(
        self,
        code,
        language,
        tests,
        test_type,
        fn_name,
        time_limit_s,
        memory_limit_mb,
        compare_mode,
        stop_at_first_failure,
        wall_factor,
        judging,
    ) -> RunResult:
        total = len(tests) if tests else 0
        try:
            prepared = prepare_tests(tests, test_type or "stdin", fn_name)
            problems = judging.problem_errors()
            if judging.has_checker and (test_type or "stdin") != "stdin":
                problems.append("a checker judges stdin tests only, not functional ones")
            if problems:
                raise BadProblem("; ".join(problems))
        except BadProblem as error:
            return RunResult("SE", 0, total, 0.0, [], f"bad problem: {error}")
        if judging.unjudged:
            return RunResult(
                None,
                0,
                total,
                None,
                [],
                "not judged: the problem accepts several answers (needs_checker) and ships no "
                "checker; comparing the output text would call right answers wrong",
                judged_by="unjudged",
            )
        if language not in ("python", "cpp"):
            return RunResult(
                "CE",
                0,
                total,
                0.0,
                [TestOutcome("CE", 0.0)] * total,
                f"unsupported language {language!r}",
            )
        if not code or not code.strip():
            return RunResult(
                "CE", 0, total, 0.0, [TestOutcome("CE", 0.0)] * total, "empty solution"
            )
        if judging.grader_files and language != "cpp":
            return RunResult(
                "CE",
                0,
                total,
                0.0,
                [TestOutcome("CE", 0.0)] * total,
                f"the problem's graders (grader_files) are C++: a {language} solution cannot be "
                "compiled with them",
            )
        limits = Limits(time_limit_s=float(time_limit_s), memory_limit_mb=int(memory_limit_mb))
        if wall_factor is None and stop_at_first_failure:
            wall_factor = FAST_WALL_FACTOR
        if wall_factor is not None:
            limits = replace(
                limits, wall_factor=float(wall_factor), wall_slack_s=CHEAP_WALL_SLACK_S
            )
        mode = compare_mode or self.compare_mode
        last_error: Exception | None = None
        for _ in range(SE_RETRIES + 1):
            try:
                result, final = self._judge(
                    code,
                    language,
                    prepared,
                    test_type,
                    fn_name,
                    limits,
                    mode,
                    stop_at_first_failure,
                    judging,
                )
            except SandboxError as error:
                last_error = error
                continue
            if result.verdict != "SE" or final:
                return result
            last_error = SandboxError(result.error or "sandbox fault")
        return RunResult(
            "SE",
            0,
            total,
            0.0,
            [TestOutcome("SE", 0.0)] * total,
            f"sandbox fault after retries: {last_error}",
        )

    def _checker(self, judging: Judging):
        """(run, None): `run([(test, contestant stdout), ...])` -> a CheckerVerdict per item, each
        checked in a sandbox child of its own; or (None, why the checker cannot run)."""
        arguments = CHECKER_ARGS[judging.checker_protocol]
        if judging.checker_language == "cpp":
            try:
                header = testlib_header()
            except CheckerUnavailable as error:
                return None, f"checker cannot be compiled: {error}"
            binary, error, _ = self.compile_cache.compile(
                self.sandbox, CHECKER_PRELUDE + judging.checker, files=(("testlib.h", header),)
            )
            if binary is None:
                error = (error or "").replace(SOURCE_NAME, "checker.cpp")
                return None, f"checker CE (the problem's checker does not compile): {error}"

            def execute(inputs, files):
                return self.sandbox.run_binary(
                    binary, inputs, CHECKER_LIMITS, args=arguments, files=files
                )
        else:

            def execute(inputs, files):
                return self.sandbox.run_python(
                    judging.checker,
                    inputs,
                    CHECKER_LIMITS,
                    args=arguments,
                    files=files,
                    exception_exit_code=PYTHON_CHECKER_CRASH,
                )

        def run(items: list[tuple[PreparedTest, bytes]]) -> list[CheckerVerdict]:
            files = [
                dict(
                    zip(
                        CHECKER_FILES,
                        (test.stdin, stdout, str(test.expected).encode()),
                        strict=True,
                    )
                )
                for test, stdout in items
            ]
            verdicts = []
            for outcome, stdout, stderr, _ in execute([b""] * len(items), files):
                if outcome.get("setup_error"):
                    raise SandboxError(f"checker sandbox set-up failed: {outcome['setup_error']}")
                verdicts.append(
                    checker_verdict(
                        outcome, stdout, stderr, CHECKER_LIMITS, judging.checker_protocol
                    )
                )
            return verdicts

        return run, None

    def _judge(
        self,
        code,
        language,
        prepared,
        test_type,
        fn_name,
        limits,
        mode,
        stop_at_first_failure,
        judging,
    ) -> tuple[RunResult, bool]:
        """(result, final): `final` says an SE result is the problem's fault (its checker), not to
        be retried as a sandbox fault."""
        total = len(prepared)
        compile_s = None
        check = None
        if judging.has_checker:
            check, checker_error = self._checker(judging)
            if check is None:
                se = [TestOutcome("SE", 0.0)] * total
                return RunResult("SE", 0, total, 0.0, se, checker_error, self.sandbox.layers), True
        if language == "cpp":
            graders = tuple((name, content.encode()) for name, content in judging.grader_files)
            binary, compile_error, compile_s = self.compile_cache.compile(
                self.sandbox, code, files=graders, sources=judging.grader_sources()
            )
            if binary is None:
                return RunResult(
                    "CE",
                    0,
                    total,
                    0.0,
                    [TestOutcome("CE", 0.0)] * total,
                    compile_error,
                    self.sandbox.layers,
                    compile_s,
                ), False

            def run(inputs: list[bytes], keep_code: bool) -> list:
                return self.sandbox.run_binary(binary, inputs, limits)
        else:

            def run(inputs: list[bytes], keep_code: bool) -> list:
                return self.sandbox.run_python(
                    code, inputs, limits, mode=test_type, fn_name=fn_name, keep_code=keep_code
                )

        if stop_at_first_failure:
            # One request per test, made lazily: the comparison (in this process: expected outputs
            # never enter the sandbox) decides whether the next test runs at all. Measured with
            # benchmarks/verify.py --harness lcb: a request per test adds 0.1-0.6 ms to a ~2.5 ms
            # test, so streaming per-test replies from one request would not pay for its protocol.
            # The zygote keeps the compiled Python code between these requests (a 1,800-line
            # solution: ~7 ms per test instead of ~90 ms recompiling it every time).
            runs = (run([test.stdin], True)[0] for test in prepared)
        else:
            runs = run([test.stdin for test in prepared], False)
        tolerance = (
            self.tolerance if judging.float_tolerance is None else float(judging.float_tolerance)
        )
        # Per test: [verdict, time, score, detail]; a None verdict waits for the checker (all
        # tests' outputs go to it in one request when every test runs).
        judged: list[list] = []
        waiting: list[tuple[int, PreparedTest, bytes]] = []
        for test, (outcome, stdout, stderr, result_bytes) in zip(prepared, runs, strict=True):
            verdict = classify(outcome, stderr, limits, language)
            if verdict == "SE":
                error = outcome.get("setup_error") or "sandbox fault"
                return RunResult("SE", 0, total, 0.0, [], error, self.sandbox.layers), False
            detail = stderr.decode("utf-8", "replace").strip()[-2000:]
            entry = [verdict, round(outcome["wall_s"], 6), None, detail]
            judged.append(entry)
            if verdict is None and check is not None:
                waiting.append((len(judged) - 1, test, stdout))
                if not stop_at_first_failure:
                    continue
                fault = self._apply_checks(check, waiting, judged)
                waiting = []
                if fault is not None:
                    return self._checker_fault(judged, total, compile_s, fault), True
            elif verdict is None:
                entry[0] = self._compare(
                    test, stdout, result_bytes, test_type, language, mode, tolerance
                )
            if stop_at_first_failure and entry[0] != "AC":
                break
        if waiting:
            fault = self._apply_checks(check, waiting, judged)
            if fault is not None:
                return self._checker_fault(judged, total, compile_s, fault), True
        outcomes = [TestOutcome(verdict, time_s, score) for verdict, time_s, score, _ in judged]
        first_error = next(
            (
                f"{verdict}: {detail}" if detail else None
                for verdict, _, _, detail in judged
                if verdict != "AC"
            ),
            None,
        )
        passed = sum(outcome.verdict == "AC" for outcome in outcomes)
        verdict = next((outcome.verdict for outcome in outcomes if outcome.verdict != "AC"), "AC")
        return RunResult(
            verdict,
            passed,
            total,
            passed / total,
            outcomes,
            first_error,
            self.sandbox.layers,
            compile_s,
        ), False

    @staticmethod
    def _apply_checks(check, waiting, judged) -> tuple[int, str] | None:
        """Run the checker on the waiting tests and record its verdicts in `judged`; (index,
        message) of the first test where the checker itself failed, else None."""
        verdicts = check([(test, stdout) for _, test, stdout in waiting])
        for (index, _, _), result in zip(waiting, verdicts, strict=True):
            if result.verdict == "SE":
                judged[index][0] = "SE"
                return index, result.message
            judged[index][0] = result.verdict
            judged[index][2] = result.score
            judged[index][3] = f"(checker) {result.message}" if result.message else ""
        return None

    def _checker_fault(self, judged, total, compile_s, fault) -> RunResult:
        """SE of a solution whose checker failed (crashed, FAIL, timed out...): the problem's
        fault, reported with the test and the reason; the outcomes judged up to it are kept."""
        index, message = fault
        outcomes = [
            TestOutcome(verdict or "SE", time_s, score)
            for verdict, time_s, score, _ in judged[: index + 1]
        ]
        outcomes[-1] = TestOutcome("SE", outcomes[-1].time_s)
        return RunResult(
            "SE",
            0,
            total,
            0.0,
            outcomes,
            f"checker fault on test {index}: {message}",
            self.sandbox.layers,
            compile_s,
        )

    def _compare(
        self, test, stdout: bytes, result_bytes: bytes, test_type, language, mode, tolerance
    ) -> str:
        if test_type == "stdin":
            return (
                "AC"
                if compare_stdout(stdout.decode("utf-8", "replace"), test.expected, mode, tolerance)
                else "WA"
            )
        payload = result_bytes if language == "python" else stdout
        # ValueError covers bad JSON and bad UTF-8; RecursionError a value nested past Python's
        # recursion limit (written by the solution: its wrong answer, not our fault).
        try:
            value = load_json(payload)
        except (ValueError, RecursionError):
            return "RE" if language == "python" else "WA"
        if language == "python":
            if not isinstance(value, dict) or set(value) != {"result"}:
                return "WA"
            value = value["result"]
        try:
            same = compare_json(value, test.expected, tolerance)
        except RecursionError:
            same = False
        return "AC" if same else "WA"


def judged_by_for(judging: Judging, test_type: str, mode: str) -> str:
    """schemas.VERIFICATION.judged_by of a problem judged with these options."""
    if judging.unjudged:
        return "unjudged"
    if judging.has_checker:
        return "checker"
    return "json" if test_type == "functional" else mode


_default_verifier: Verifier | None = None
_default_lock = threading.Lock()


def default_verifier() -> Verifier:
    global _default_verifier
    with _default_lock:
        if _default_verifier is None:
            _default_verifier = Verifier()
        return _default_verifier


def run_tests(
    code: str | None,
    language: str,
    tests: list[dict] | None,
    test_type: str = "stdin",
    fn_name: str | None = None,
    time_limit_s: float = 2.0,
    memory_limit_mb: int = 256,
    compare_mode: str = "tokens",
    stop_at_first_failure: bool = False,
    wall_factor: float | None = None,
    judging: Judging | None = None,
) -> RunResult:
    """Run `code` against `tests` in the process-wide default sandbox and judge it (see module doc
    and `Verifier.run_tests`; `judging`: the problem's checker, tolerance and graders)."""
    verifier = default_verifier()
    with _default_lock_for_runs:
        return verifier.run_tests(
            code,
            language,
            tests,
            test_type,
            fn_name,
            time_limit_s,
            memory_limit_mb,
            compare_mode,
            stop_at_first_failure=stop_at_first_failure,
            wall_factor=wall_factor,
            judging=judging,
        )


_default_lock_for_runs = threading.Lock()


def close_default_verifier() -> None:
    global _default_verifier
    with _default_lock:
        if _default_verifier is not None:
            _default_verifier.close()
            _default_verifier = None


atexit.register(close_default_verifier)

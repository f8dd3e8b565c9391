"""Sandboxed execution of untrusted Python and C++ solutions against unit tests.

Public API
----------
`run_tests(code, language, tests, test_type="stdin", fn_name=None, time_limit_s=2.0,
memory_limit_mb=256, compare_mode="tokens", stop_at_first_failure=False, wall_factor=None,
judging=None) -> RunResult` with `verdict` (AC, WA, TLE, MLE, RE, CE, OLE, SE), `passed`, `total`,
`pass_rate`, per-test `tests` (verdict, time_s, score), `error`, `isolation` (the sandbox layers that
were in force) and `judged_by` ("tokens" | "lines" | "json" | "checker" | "unjudged").
`judging` (`Judging`) carries the problem's own options: its checker (C++ testlib or Python, run in
the sandbox; see `checker.py` for the verdict mapping and partial scores), the float tolerance its
statement states, IOI grader files compiled with a C++ solution, and `needs_checker` (with no
checker: not judged, verdict and pass_rate None, judged_by "unjudged", the program not run).
`language` is "python" or "cpp"; `tests` is a list of {"input": str, "output": str}.
By default every test runs (the dataset's pass_rate needs them all) and a test's wall deadline is
max(2 x limit, limit + 1 s). For evaluation (pass@k needs only pass/fail),
`stop_at_first_failure=True` runs the tests in order and stops at the first that is not AC, like
LiveCodeBench's harness: pass/fail is exact, `pass_rate` is a lower bound, `tests` lists only what
ran; its wall deadline is the limit + 0.1 s (`wall_factor`, default 1.0 in that mode), so a time-out
costs about the limit.
`verify_frame(generations, problems, workers, backend="local"|"ray", ...) -> pl.DataFrame` judges a
frame of solutions (schemas.GENERATION) and returns schemas.VERIFICATION rows keyed by generation_id.
`VerifyPool` keeps the sandboxes (threads or Ray actors) warm across many frames: the verify pipeline
verifies its table batch by batch through one pool. `Verifier` is the reusable object behind both
(one warm sandbox; use it for many calls).

Test conventions
----------------
* stdin tests: the input is fed on stdin; stdout is compared with the expected output in the parent,
  by whitespace-separated tokens with 1e-6 absolute-or-relative float tolerance (`compare_mode=
  "tokens"`), or line by line after stripping (`"lines"`, LiveCodeBench parity). A prefix of the
  expected output, or extra output, never passes.
* functional tests (`test_type="functional"`, `fn_name` required): the input is a JSON array of
  arguments (a LiveCodeBench-style one-JSON-value-per-line input is accepted too), the output a JSON
  value. Python: a LeetCode `class Solution` with method `fn_name`, or a plain function `fn_name`; the
  child sends `json.dumps(result)` (tuples become lists, sets sorted lists) and the parent compares
  structurally with float tolerance, so objects with a rigged `__eq__` never reach a comparison.
  C++: the program reads the JSON argument array on stdin (one line) and prints the JSON result on
  stdout; the parent parses stdout as JSON and compares it the same way.
* Expected outputs never enter the sandbox process or its filesystem while a solution runs. A
  problem's checker (code from the data) runs afterwards in a sandbox child of its own, with the
  test's input, the solution's output and the expected answer as files in its private working
  directory (`checker input.txt output.txt answer.txt`, testlib's convention) and limits of its own;
  the solution's own RE/TLE/MLE/OLE come first (its checker does not run then).
* C++ is compiled once per unique (source, flags, compiler, files compiled with it: IOI graders, a
  checker's testlib.h) with `g++ -O2 -std=c++17`, inside the sandbox, with a precompiled <bits/stdc++.h> when it builds (a failed PCH compile is retried
  plainly); binaries are cached on disk (`OCR2_SANDBOX_CACHE`, default ~/.cache/ocr2_kedro/cpp).

Isolation (see `sandbox.py` / `_zygote.py`), the same as root or as a normal user: a pre-warmed
zygote per worker in its own user (when not root), network, mount, PID, IPC and UTS namespaces, with a
read-only allow-list root (/usr, the interpreter's and compiler's prefixes, the compile cache, a few
/etc files, a minimal /dev, its own /proc; fresh tmpfs /tmp and /dev/shm; nothing else of the host),
forks one child per test: the init of a PID namespace of its own (everything it starts ends with
it), new session, rlimits (CPU, address space, stack, file size, open files, and processes where the
uid is the sandbox's alone), private working directory, closed fds, empty environment, no
capabilities (a leased host uid as root, plus memory/pids cgroups where creatable), no_new_privs,
parent-death signal; stdout is capped (OLE), the resident size is watched where no memory cgroup
limits it (MLE), and the sandbox's own failures travel on a pipe the program never holds (SE cannot
be forged). Without a network namespace, the private root, a PID namespace and an identity of its
own the sandbox refuses to run (`SandboxUnavailable`) unless `allow_weak_isolation`; the layers in
force are on every `RunResult.isolation`.
"""

from .batch import VerifyPool, verify_frame
from .checker import Judging
from .compare import compare_json, compare_stdout
from .runner import (
    BadProblem,
    CompileCache,
    RunResult,
    TestOutcome,
    Verifier,
    close_default_verifier,
    run_tests,
)
from .sandbox import Limits, Sandbox, SandboxError, SandboxUnavailable

__all__ = [
    "BadProblem",
    "CompileCache",
    "Judging",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "TestOutcome",
    "Verifier",
    "close_default_verifier",
    "compare_json",
    "compare_stdout",
    "run_tests",
    "VerifyPool",
    "verify_frame",
]

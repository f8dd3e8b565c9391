"""Checker programs as sources publish them, brought to the project's checker protocol. Kedro-free.

The protocol of a problem's `checker` (what the sandbox runs, testlib's): `checker <input> <output>
<answer>`, where `output` is the contestant's output and `answer` the expected one; exit status 0
accepts, 1 (testlib's WA) or 2 (PE) rejects, 3 (testlib's FAIL) says the checker itself failed (a
sandbox/system fault, SE, never the solution's). Checker code comes from data: it is only ever run
inside the sandbox, never here; this module only builds text.

open-r1/codeforces (`generated_checker`) ships Python checkers written for its own runner (the
`codeforces` package of guipenedo/piston, called by open-r1's `cf_scoring.py`): `python3
checker.py <input> <expected output> <contestant output>` (expected before contestant), after
stripping carriage returns and deleting empty lines from both outputs; the verdict is what it
prints: "1" (or "100") accepts, anything else rejects. `open_r1_checker(source)` wraps such a
checker in a small stdlib-only Python program that speaks the protocol above: it prepares the two
outputs as open-r1 does, runs the original with open-r1's argument order, reads what it printed,
and exits 0 on "1"/"100", 1 otherwise; where the original raises (crashes) it exits 3, so a broken
checker is a fault, not a wrong answer.
"""

from __future__ import annotations

_OPEN_R1_ADAPTER = '''\
# open-r1/codeforces generated checker, run under the project's checker protocol
# (argv: input, contestant output, expected output; exit 0 accepted, 1 wrong, 3 checker failure).
# Written by ocr2_kedro.sources.checkers.open_r1_checker; the original follows in ORIGINAL.
import contextlib
import io
import os
import sys
import tempfile
import traceback

ORIGINAL = {original!r}


def _prepared(path, folder, name):
    """The file as open-r1's runner hands it to the checker: no CR, no empty lines."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [line.rstrip("\\r") for line in handle.read().split("\\n")]
    prepared = os.path.join(folder, name)
    with open(prepared, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\\n" for line in lines if line))
    return prepared


def main():
    if len(sys.argv) < 4:
        print("usage: checker <input> <output> <answer>", file=sys.stderr)
        return 3
    given_input, output, answer = sys.argv[1:4]
    try:
        folder = tempfile.mkdtemp()
        expected = _prepared(answer, folder, "correct_output.txt")
        contestant = _prepared(output, folder, "solution_output.txt")
    except OSError:  # nowhere to write: the outputs as they are
        expected, contestant = answer, output
    printed = io.StringIO()
    status = 0
    sys.argv = ["checker.py", given_input, expected, contestant]
    with contextlib.redirect_stdout(printed):
        try:
            exec(compile(ORIGINAL, "checker.py", "exec"), {{"__name__": "__main__"}})
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            print("the checker crashed", file=sys.stderr)
            return 3
    verdict = "".join(printed.getvalue().split())
    print(verdict[:200], file=sys.stderr)
    return 0 if status == 0 and verdict in ("1", "100") else 1


if __name__ == "__main__":
    sys.exit(main())
'''


def open_r1_checker(source: str) -> str:
    """An open-r1/codeforces `generated_checker` as a checker of the project's protocol (see the
    module): Python source that embeds the original as a string literal and runs it (sandboxed)."""
    return _OPEN_R1_ADAPTER.format(original=source)

"""Run a command as an unused, unprivileged uid (what a laptop or Slurm user is), from a root test.

CI runs as root; the sandbox's promises are for normal users too. `run_unprivileged` starts a
subprocess that leaves root for a uid no user or process has, with no supplementary groups and no
capabilities. Before it drops root it makes the interpreter reachable (pyenv keeps it under /root,
mode 0700, which a user's own Python install never is): in a private mount namespace, each
directory on the way to the interpreter and the project that others may not search is covered by
an empty tmpfs with only the next path component bound back. Nothing else of the host changes.
`no_user_namespaces=True` runs it inside a user namespace whose user.max_user_namespaces is 0: the
kernel then refuses it any user namespace, as hardened kernels do for unprivileged users.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from ocr2_kedro.execution.sandbox import uids_in_use

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
REPO = Path(__file__).resolve().parents[2]
CANDIDATE_UIDS = range(1_500_000_000, 1_500_001_000)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    _check(
        LIBC.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def unused_uid() -> int:
    """A uid no user and no running process has (the sandbox's own check, `uids_in_use`)."""
    used = uids_in_use()
    return next(uid for uid in CANDIDATE_UIDS if uid not in used)


def _expose(path: str) -> None:
    """Make `path` reachable by anyone, in this mount namespace only (see the module doc)."""
    parts = Path(path).parts
    for depth in range(1, len(parts) - 1):
        directory = os.path.join(*parts[: depth + 1])
        if os.stat(directory).st_mode & 0o001:
            continue
        below = os.path.join(directory, parts[depth + 1])
        fd = os.open(below, os.O_PATH | os.O_CLOEXEC)
        try:
            _mount("ocr2expose", directory, "tmpfs", 0, "mode=0755")
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.mkdir(below)
            else:
                Path(below).touch()
            _mount(f"/proc/self/fd/{fd}", below, None, MS_BIND | MS_REC, None)
        finally:
            os.close(fd)


def _enter_namespace_without_user_namespaces(uid: int) -> None:
    """Move into a user namespace (root and `uid` mapped to themselves) whose limit on nested user
    namespaces is 0. Only a process still in the parent namespace may write a map of more than
    one id, so a helper forked before the unshare writes it."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    target = os.getpid()
    helper = os.fork()
    if helper == 0:
        try:
            os.read(ready_r, 1)
            for name in ("uid_map", "gid_map"):
                Path(f"/proc/{target}/{name}").write_text(f"0 0 1\n{uid} {uid} 1\n")
            os.write(done_w, b"1")
        finally:
            os._exit(0)
    _check(LIBC.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    os.write(ready_w, b"1")
    if os.read(done_r, 1) != b"1":
        raise OSError("the id maps of the test's user namespace were not written")
    os.waitpid(helper, 0)
    Path("/proc/sys/user/max_user_namespaces").write_text("0")


def _drop(uid: int, no_user_namespaces: bool) -> None:
    _check(LIBC.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    for path in (os.path.realpath(sys.executable), str(REPO), os.path.realpath(sys.prefix)):
        _expose(path)
    if no_user_namespaces:
        _enter_namespace_without_user_namespaces(uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def run_unprivileged(
    argv: list[str],
    *,
    uid: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    no_user_namespaces: bool = False,
) -> subprocess.CompletedProcess:
    """Run `argv` (from the repository root) as `uid` (default: an unused one). Root only."""
    if os.geteuid() != 0:
        raise PermissionError("run_unprivileged drops root: run it as root")
    uid = uid if uid is not None else unused_uid()
    home = Path(f"/tmp/ocr2_unprivileged_{uid}")
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, uid, uid)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    return subprocess.run(
        argv,
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=lambda: _drop(uid, no_user_namespaces),
    )

"""Sandbox zygote: a pre-warmed, isolated Python process that forks one jailed child per test.

Run as a script (`python -I -S _zygote.py REQ_FD RESP_FD CONFIG_JSON`) by `ocr2_kedro.execution.sandbox`;
it imports only the standard library. The zygote never receives expected outputs: it gets solution
code (or the name of a compiled binary) plus test inputs, and sends back raw run facts (exit status,
CPU and wall time, stdout, stderr tail, functional result) for the parent to judge.

Setup, once per zygote, the same whoever runs it: new network (no interface up), mount, PID, IPC
and UTS namespaces, created from a user namespace when the caller is not root (the caller's uid is
the only one mapped, as uid 1000 inside). The zygote is PID 1 of its PID namespace, not dumpable (no
test reads its /proc entries or attaches to it), and replaces its root with an allow-list
(`build_root`): /usr, the interpreter's and the compiler's prefixes and the C++ cache read-only, a
few /etc files, a minimal /dev, its own /proc, fresh tmpfs for /tmp, /dev/shm and the working
directories; nothing else of the host. Per test child: a PID namespace of its own (the child is its
init: when it ends, everything it started ends), new session, cgroup (memory, pids; root only) join,
rlimits (RLIMIT_NPROC only where the uid is the sandbox's alone), private working directory, all
other fds closed, empty environment, then as root setgid/setuid to a leased host uid, or in a user
namespace no capabilities; no_new_privs, parent-death signal; then the solution runs (Python
in-process, so no interpreter start-up; C++ by fexecve of the cached binary). The child reports a
failure of its own set-up on a pipe closed before the solution runs (`STATUS_FD`), so no program can
forge a sandbox fault. After each test: every process of the test gone, the working directory and
the private tmp dirs emptied.

Per-test cost is mostly fork itself (page-table copy, copy-on-write faults, exit teardown), so
whatever is the same for every child is done once here instead: the AST types that compile() builds
on first use, the environment, the standard stream objects, the recursion and thread-stack limits,
no_new_privs (inherited and irrevocable), open cgroup files, and, per Python solution, its compiled
code (compiled by the first test's child, see Zygote._compiled; kept for one request, or across
consecutive one-test requests with the same source that ask for it with `keep_code`). threading is
not pre-imported (its after-fork hook taxed every child). Nothing a test does can reach the next: it
runs in its own process, the zygote's copy of these objects is never used itself, and the
directories are emptied.
"""

import _thread
import atexit

# Pre-imported so that solutions find them warm (import is a dict lookup in the forked child).
# Not threading: its after-fork hook and exit handling cost every child ~0.4 ms, more than the
# import (~2 ms) costs the few solutions that use it.
import bisect  # noqa: F401
import collections  # noqa: F401
import contextlib
import copy  # noqa: F401
import ctypes
import decimal  # noqa: F401
import fcntl
import fractions  # noqa: F401
import functools  # noqa: F401
import heapq  # noqa: F401
import itertools  # noqa: F401
import json
import marshal
import math  # noqa: F401
import operator  # noqa: F401
import os
import random  # noqa: F401
import re  # noqa: F401
import resource
import select
import signal
import string  # noqa: F401
import struct
import sys
import time
import traceback
import types
import typing  # noqa: F401

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
AT_RECURSIVE = 0x8000
# Syscalls Python has no wrapper for, by architecture (mount_setattr has one number everywhere).
SYSCALL_NUMBERS = {
    "x86_64": {"pivot_root": 155, "capset": 126},
    "aarch64": {"pivot_root": 41, "capset": 91},
    "ppc64le": {"pivot_root": 203, "capset": 184},
}.get(os.uname().machine, {})
SYS_PIVOT_ROOT = SYSCALL_NUMBERS.get("pivot_root")
SYS_CAPSET = SYSCALL_NUMBERS.get("capset")
SYS_MOUNT_SETATTR = 442
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
MFD_CLOEXEC = 1
CODE_BLOB_CAP = 64 << 20
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# How often the resident size of a test is read where no memory cgroup limits it.
MEMORY_WATCH_S = 0.005
# The uid (and gid) the sandbox runs as inside its own user namespace (unprivileged mode): mapped to
# the caller's uid, the only one an unprivileged process may map.
NAMESPACE_ID = 1000
# Where the child reports a failure of its own set-up: a pipe the solution never holds (closed before
# its code runs, close-on-exec for binaries), so no program can write the sandbox's failure text.
STATUS_FD = 5
# /etc entries the dynamic loader, the compiler and the interpreter read; nothing else of /etc.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime")
DEVICES = ("null", "zero", "full", "random", "urandom")

FUNCTIONAL_PRELUDE = (
    "from typing import *\nfrom collections import *\nfrom heapq import *\nfrom bisect import *\n"
    "from itertools import *\nfrom functools import *\nfrom math import *\nimport math, sys, re, string, "
    "collections, heapq, bisect, itertools, functools\n"
)
FUNCTIONAL_NAMESPACE = {}
exec(FUNCTIONAL_PRELUDE, FUNCTIONAL_NAMESPACE)
CHILD_STREAMS = []
# The first compile() of a process builds the interpreter's AST type objects (1-2 ms); doing it
# once here (on trusted text) spares every forked child that cost.
compile("pass", "<warm-up>", "exec")


def _mount(source, target, fstype, flags, data):
    result = LIBC.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} -> {target}: {os.strerror(errno)}")


def _umount(target):
    LIBC.umount2(target.encode(), MNT_DETACH)


def _prctl(option, value):
    return LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def remove_tree(path):
    """Delete a file or a whole directory tree, iteratively: a solution can nest directories far
    deeper than shutil.rmtree's recursion allows. Only called once every sandbox process is dead,
    so the tree cannot change underneath (hence walking back up through "..")."""
    try:
        os.unlink(path)
        return
    except FileNotFoundError:
        return
    except IsADirectoryError:
        pass
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags)
    names = []
    try:
        while True:
            subdir, seen = None, False
            with os.scandir(fd) as entries:
                for entry in entries:
                    seen = True
                    if entry.is_dir(follow_symlinks=False):
                        subdir = entry.name
                        break
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
            if seen and subdir is None:
                continue  # rescan: only a pass that sees nothing proves the directory empty
            if subdir is not None:
                child = os.open(subdir, flags, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(subdir)
                continue
            if not names:
                break
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _mount_setattr(path, attributes, recursive, dir_fd=-100):
    """Set mount attributes (read-only, nosuid, nodev) on a mount, and on its submounts when
    `recursive`: a remount would change only the top mount of a recursive bind."""

    class MountAttr(ctypes.Structure):
        _fields_ = [
            ("attr_set", ctypes.c_uint64),
            ("attr_clr", ctypes.c_uint64),
            ("propagation", ctypes.c_uint64),
            ("userns_fd", ctypes.c_uint64),
        ]

    attr = MountAttr(attributes, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    result = LIBC.syscall(
        SYS_MOUNT_SETATTR,
        ctypes.c_int(dir_fd),
        path.encode(),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if result == 0:
        return
    errno = ctypes.get_errno()
    if errno not in (38, 22):  # ENOSYS, EINVAL: an older kernel; remount the top mount instead
        raise OSError(errno, f"mount_setattr {path}: {os.strerror(errno)}")
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV
    _mount(None, path, None, flags | (MS_RDONLY if attributes & MOUNT_ATTR_RDONLY else 0), None)


def _make_parents(root, path):
    """Create `path`'s directories under `root` (0755, on the new root's tmpfs)."""
    os.makedirs(os.path.join(root, os.path.dirname(path).lstrip("/")), 0o755, exist_ok=True)


def build_root(config, layers, notes):
    """Replace the file system the sandbox sees with an allow-list: a fresh read-only root holding
    /usr (and the merged-/usr links), the interpreter's prefix, the compiler's prefix and the C++
    cache (read-only, all at their host paths), a few /etc files, a minimal /dev, /proc of this
    PID namespace, and fresh tmpfs for /tmp, /dev/shm and the working directories. Nothing else of
    the host (the project, data/, /home, /opt, /srv, the host's /tmp) exists in it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    binds = ["/usr"]
    links = {}
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + top
        if os.path.islink(host):
            links[top] = os.readlink(host)
        elif os.path.isdir(host):
            binds.append(host)
    for path in config["binds"]:
        if os.path.isdir(path) and not any(_inside(path, kept) for kept in binds):
            binds.append(path)
    etc = [name for name in ETC_ENTRIES if os.path.exists(os.path.join("/etc", name))]
    devices = [name for name in DEVICES if os.path.exists(os.path.join("/dev", name))]
    # Opened before anything is covered, so that a bind source under the staging mount point (or a
    # bind below another) is still reachable: binds are made from /proc/self/fd/N.
    flags = os.O_PATH | os.O_CLOEXEC
    sources = {path: os.open(path, flags) for path in binds}
    sources.update({f"/etc/{name}": os.open(f"/etc/{name}", flags) for name in etc})
    sources.update({f"/dev/{name}": os.open(f"/dev/{name}", flags) for name in devices})
    root = "/tmp"
    _mount("ocr2root", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    for top, target in links.items():
        os.symlink(target, os.path.join(root, top))
    for name in ("etc", "dev", "proc", "tmp", "var"):
        os.mkdir(os.path.join(root, name), 0o755)
    os.symlink("/tmp", os.path.join(root, "var", "tmp"))
    os.mkdir(os.path.join(root, "dev", "shm"))
    # The scratch file systems first: a bind whose host path lies under /tmp (a compile cache in a
    # temporary directory) then lands inside them instead of being covered by them.
    # Memory-backed, and outside the resident-size watch where no cgroup counts them: kept small.
    scratch = {"/tmp": "1g", "/dev/shm": "256m"}
    for path, size in scratch.items():
        _mount(
            "ocr2tmp",
            os.path.join(root, path.lstrip("/")),
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"mode=1777,size={size}",
        )
    try:
        for path, fd in sources.items():
            target = os.path.join(root, path.lstrip("/"))
            _make_parents(root, path)
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(target, 0o755, exist_ok=True)
            else:
                with open(target, "w"):
                    pass
            _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC, None)
            readonly = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
            if not path.startswith("/dev/"):
                readonly |= MOUNT_ATTR_NODEV
            _mount_setattr(target, readonly, recursive=True)
    finally:
        for fd in sources.values():
            os.close(fd)
    # Names for the sandbox identity (some programs look their uid up); no other account exists.
    uid = config["uid"] if config["uid"] is not None else NAMESPACE_ID
    with open(os.path.join(root, "etc", "passwd"), "w") as handle:
        handle.write(
            f"root:x:0:0::/:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}::/tmp:/usr/sbin/nologin\n"
        )
    with open(os.path.join(root, "etc", "group"), "w") as handle:
        handle.write(f"root:x:0:\nsandbox:x:{uid}:\n")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, os.path.join(root, "dev", name))
    os.symlink("/proc/self/fd/1", os.path.join(root, "dev", "stdout"))
    os.symlink("/proc/self/fd/2", os.path.join(root, "dev", "stderr"))
    # The directories made in /tmp or /dev/shm to hold a bind are frozen read-only (bound onto
    # themselves), so that no test can rename, empty or chmod what the next test needs; the zygote
    # leaves them when it empties the scratch file systems after a test.
    kept = []
    for path in binds:
        top = next((tmp for tmp in scratch if _inside(path, tmp) and path != tmp), None)
        if top is None:
            continue
        entry = os.path.join(top, os.path.relpath(path, top).split("/")[0])
        if entry not in kept:
            kept.append(entry)
            target = os.path.join(root, entry.lstrip("/"))
            _mount(target, target, None, MS_BIND | MS_REC, None)
            _mount_setattr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, True)
    config["kept_in_scratch"] = kept
    proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    for options in ("hidepid=invisible", "hidepid=2", None):
        try:
            # Only the processes the reader may trace are listed: the zygote (not dumpable) is not.
            _mount("proc", os.path.join(root, "proc"), "proc", proc_flags, options)
            layers.append("proc_private")
            break
        except OSError as error:
            proc_error = error
    else:
        notes.append(f"no /proc in the sandbox: {proc_error}")
    os.chdir(root)
    if SYS_PIVOT_ROOT is None:
        raise OSError(38, f"pivot_root: no syscall number known for {os.uname().machine}")
    if LIBC.syscall(SYS_PIVOT_ROOT, b".", b".") != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"pivot_root: {os.strerror(errno)}")
    # The old root is stacked under the new one at "/": detach it (and every host mount with it).
    _umount(".")
    os.chdir("/")
    _mount_setattr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, recursive=False)
    layers += ["mount_ns", "minimal_root", "private_tmp"]
    notes.append("visible: " + ", ".join(["/usr", *binds[1:], "/etc (" + ", ".join(etc) + ")"]))


def _drop_capabilities():
    """Empty the permitted, effective and inheritable sets: a child of a zygote that owns its user
    namespace would otherwise hold every capability there (mounts, network set-up)."""
    if SYS_CAPSET is None:
        raise OSError(38, f"capset: no syscall number known for {os.uname().machine}")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if LIBC.syscall(SYS_CAPSET, header, data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"capset: {os.strerror(errno)}")


def make_child_streams():
    """The children's sys.stdin/stdout/stderr, built once here instead of in every child.

    They wrap fds 0, 1 and 2, which a child points at its own stdin memfd and output pipes before
    using them; the zygote never reads or writes through them, so each child starts from untouched
    buffers. Built while 0-2 are a memfd and a pipe (the kinds a child has) so that what the io
    layer caches at creation (seekable, buffer size, tty) is what the child would have got.
    """
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    memfd = os.memfd_create("stdin", MFD_CLOEXEC)
    read_end, write_end = os.pipe()
    try:
        os.dup2(memfd, 0)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        return [
            open(0, encoding="utf-8", closefd=False),  # noqa: SIM115 - kept for the children
            open(1, "w", encoding="utf-8", closefd=False),  # noqa: SIM115 - kept for the children
            open(2, "w", encoding="utf-8", closefd=False, buffering=1),  # noqa: SIM115 - kept for the children
        ]
    finally:
        for fd, old in zip((0, 1, 2), saved, strict=True):
            os.dup2(old, fd)
            os.close(old)
        for fd in (memfd, read_end, write_end):
            os.close(fd)


def _become_namespace_init():
    """After unshare(CLONE_NEWPID) only children enter the new PID namespace: fork, and let the
    child go on as the zygote (PID 1 there, out of reach of every test's signals); this process
    only waits for it and mirrors its exit."""
    child = os.fork()
    if child:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _write_id_maps(host_uid, host_gid):
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{NAMESPACE_ID} {host_uid} 1"),
        ("gid_map", f"{NAMESPACE_ID} {host_gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def setup(config):
    """Isolate this zygote: user (when not root), network, mount, PID, IPC and UTS namespaces,
    then the allow-list root. Whatever the host refuses is left out of `layers` and said in
    `notes`; the parent decides whether that is acceptable (Sandbox's minimum isolation)."""
    layers, notes = [], []
    # Opened before the root is replaced: the compile cache (written by the zygote only) and the
    # cgroup directories live outside the sandbox's view.
    config["cache_fd"] = (
        os.open(config["cache_dir"], os.O_RDONLY | os.O_DIRECTORY) if config["cache_dir"] else None
    )
    config["cgroup_fds"] = {
        key: os.open(config[key], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for key in ("cgroup_memory", "cgroup_pids")
        if config[key]
    }
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != config["parent_pid"]:
        os._exit(0)
    config["pid_ns_fd"] = None
    if config["isolate"]:
        user_ns = config["user_ns"]
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        host_uid, host_gid = os.geteuid(), os.getegid()
        if LIBC.unshare(flags | (CLONE_NEWUSER if user_ns else 0)) != 0:
            kind = "user, " if user_ns else ""
            error = os.strerror(ctypes.get_errno())
            notes.append(f"unshare of the {kind}network, mount and PID namespaces failed: {error}")
        else:
            if user_ns:
                _write_id_maps(host_uid, host_gid)
                layers.append("user_ns")
                # The limit is per user namespace: no test can make one of its own below this one
                # (a kernel attack surface, and capabilities over whatever it creates there).
                try:
                    with open("/proc/sys/user/max_user_namespaces", "w") as handle:
                        handle.write("0")
                    layers.append("no_nested_userns")
                except OSError as error:
                    notes.append(f"nested user namespaces stay allowed: {error}")
            _become_namespace_init()
            config["pid_ns_fd"] = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            layers += ["net_ns", "pid_ns", "ipc_ns"]
            LIBC.sethostname(b"sandbox", 7)
            try:
                build_root(config, layers, notes)
            except OSError as error:
                notes.append(f"private file system view failed: {error}")
    uid = config["uid"]
    if uid is not None:
        probe = os.fork()
        if probe == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os._exit(0 if os.getuid() == uid else 1)
            except OSError:
                os._exit(1)
        _, status = os.waitpid(probe, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            layers.append("setuid")
        else:
            notes.append(f"setuid to {uid} failed; children keep uid {os.getuid()}")
            config["uid"] = None
    # Tests read nothing of the zygote through /proc, and cannot attach to it: not dumpable.
    _prctl(PR_SET_DUMPABLE, 0)
    # Inherited by every child and irrevocable, so setting it once here is the same as per child;
    # it does not restrict setuid() in the zygote's helpers, only privilege gain through execve.
    config["no_new_privs_inherited"] = _prctl(PR_SET_NO_NEW_PRIVS, 1) == 0
    if config["cgroup_memory"]:
        layers.append("cgroup_memory")
    if config["cgroup_pids"]:
        layers.append("cgroup_pids")
    if "user_ns" in layers:
        layers.append("no_caps")
    # RLIMIT_NPROC counts the processes of a uid in a user namespace: only a uid of its own (leased
    # host uid, or this user namespace) makes it a per-sandbox limit.
    config["limit_processes"] = "setuid" in layers or "user_ns" in layers
    if config["limit_processes"]:
        layers.append("nproc_limit")
    layers += ["session", "rlimits", "empty_env", "close_fds", "no_new_privs", "pdeathsig"]
    return layers, notes


class Zygote:
    def __init__(self, config, layers):
        self.config = config
        self.uid = config["uid"]
        self.isolated = "minimal_root" in layers
        self.pid_ns_fd = config["pid_ns_fd"]
        self.limit_processes = config["limit_processes"]
        # Inside the allow-list root the working directories sit in the private /tmp (one file
        # system, as on a judge: a solution may move files between them); otherwise a fresh host
        # directory.
        self.work_root = "/tmp/ocr2_sandbox" if self.isolated else config["host_work_root"]
        self.tmp_dirs = ("/tmp", "/dev/shm") if self.isolated else ()
        self.kept_in_scratch = config.get("kept_in_scratch", [])
        self.cache_fd = config["cache_fd"]
        self.cg_mem = config["cgroup_fds"].get("cgroup_memory")
        self.cg_pids = config["cgroup_fds"].get("cgroup_pids")
        self.cg_version = config["cgroup_version"]
        self.current_memory_limit = None
        # Marshalled code object of the Python solution being served (see _compiled), and its
        # source when a request asked to keep it for the next request (see _begin_run).
        self.code_blob = None
        self.code_source = None
        self.sends_code = False
        self.must_restart = False
        self.no_new_privs_inherited = config.get("no_new_privs_inherited", False)
        os.makedirs(self.work_root, 0o711, exist_ok=True)
        os.chmod(self.work_root, 0o711)
        # One working directory path per zygote, emptied and re-created after every test, so that
        # the children's environment can be prepared here once instead of in every child.
        self.workdir = os.path.join(self.work_root, "w")
        self._reset_workdir()
        os.environ.clear()
        os.environ.update(
            {
                "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": self.workdir,
                "TMPDIR": self.workdir,
            }
        )
        # Opened once: a child joins its cgroups with one write each, the zygote reads the counters
        # without re-opening files (all close-on-exec, and closed in the child before user code).
        flags = os.O_CLOEXEC
        self.cg_join_fds = [
            os.open("cgroup.procs", os.O_WRONLY | flags, dir_fd=group)
            for group in (self.cg_mem, self.cg_pids)
            if group is not None
        ]
        self.oom_fd = self.peak_fd = None
        if self.cg_mem is not None:
            name = "memory.events" if self.cg_version == 2 else "memory.oom_control"
            with contextlib.suppress(OSError):
                self.oom_fd = os.open(name, os.O_RDONLY | flags, dir_fd=self.cg_mem)
            if self.cg_version == 1:
                with contextlib.suppress(OSError):
                    self.peak_fd = os.open(
                        "memory.max_usage_in_bytes", os.O_RDWR | flags, dir_fd=self.cg_mem
                    )

    def _reset_workdir(self):
        """Leave the working directory empty, 0700 and owned by the sandbox uid."""
        try:
            os.rmdir(self.workdir)
        except FileNotFoundError:
            pass
        except OSError:
            self._remove(self.workdir)
        # A solution running under this zygote's own uid (user namespace) may have removed the
        # work root itself.
        os.makedirs(self.work_root, 0o711, exist_ok=True)
        os.mkdir(self.workdir, 0o700)
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)

    def _remove(self, path):
        with contextlib.suppress(OSError):
            remove_tree(path)
        if os.path.lexists(path):
            # Whatever a test left that cannot be deleted must not reach the next test: moved out
            # of reach (root-owned, mode 0; if even that fails the request fails), and this zygote
            # exits after answering, so its successor starts with fresh namespaces and tmpfs.
            self.must_restart = True
            stale = os.path.join(os.path.dirname(path), f".stale{time.monotonic_ns()}")
            os.rename(path, stale)
            # Under a user namespace the sandbox uid is this zygote's own: nothing to take away,
            # the restart is what protects the next test.
            with contextlib.suppress(OSError):
                os.lchown(stale, 0, 0)
                if not os.path.islink(stale):
                    os.chmod(stale, 0)

    # --- cgroups -------------------------------------------------------------------------------
    def _write(self, name, value):
        """Write a memory cgroup file (the cgroup is outside the sandbox's view: by directory fd)."""
        fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=self.cg_mem)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)

    def _cg_exists(self, name):
        try:
            os.stat(name, dir_fd=self.cg_mem)
            return True
        except OSError:
            return False

    def _set_memory_limit(self, limit_bytes):
        if self.cg_mem is None or limit_bytes == self.current_memory_limit:
            return
        if self.cg_version == 2:
            self._write("memory.max", limit_bytes)
            if self._cg_exists("memory.swap.max"):
                self._write("memory.swap.max", 0)
        else:
            memsw, limit = "memory.memsw.limit_in_bytes", "memory.limit_in_bytes"
            raising = self.current_memory_limit is None or limit_bytes > self.current_memory_limit
            order = [memsw, limit] if raising else [limit, memsw]
            for name in order:
                if self._cg_exists(name):
                    try:
                        self._write(name, limit_bytes)
                    except OSError:
                        if name == limit:
                            raise
        self.current_memory_limit = limit_bytes

    def _oom_kills(self):
        if self.oom_fd is None:
            return 0
        try:
            text = os.pread(self.oom_fd, 4096, 0)
        except OSError:
            return 0
        for line in text.split(b"\n"):
            key, _, value = line.partition(b" ")
            if key == b"oom_kill":
                return int(value)
        return 0

    def _peak_memory(self):
        if self.peak_fd is None:
            return None
        try:
            return int(os.pread(self.peak_fd, 64, 0))
        except (OSError, ValueError):
            return None

    def _reset_peak(self):
        if self.peak_fd is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self.peak_fd, b"0", 0)

    def _cgroup_pids(self):
        pids = set()
        for group in (self.cg_pids, self.cg_mem):
            if group is not None:
                try:
                    fd = os.open("cgroup.procs", os.O_RDONLY | os.O_CLOEXEC, dir_fd=group)
                except OSError:
                    continue
                try:
                    data = b""
                    while chunk := os.read(fd, 65536):
                        data += chunk
                except OSError:
                    pass
                finally:
                    os.close(fd)
                pids.update(int(line) for line in data.split() if line)
        return pids

    # --- cleanup -------------------------------------------------------------------------------
    def _kill_uid(self):
        """kill(-1) from a helper with the sandbox uid: atomic w.r.t. fork, reaches setsid escapees."""
        helper = os.fork()
        if helper == 0:
            try:
                os.setgid(self.uid)
                os.setuid(self.uid)
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            os._exit(0)
        os.waitpid(helper, 0)

    def _reap(self, blocking):
        deadline = time.monotonic() + 2.0
        while True:
            try:
                pid, _ = os.waitpid(-1, 0 if blocking else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def _sweep(self, pgid):
        """Kill everything the test started. In a PID namespace of its own the test's first process
        is that namespace's init: once it is gone (reaped in `_collect`) the kernel has killed and
        reaped every other process in it, setsid() escapees included. Without one: its process
        group, its cgroups, and (by uid) the rest."""
        if self.pid_ns_fd is not None:
            self._reap(blocking=False)
            return
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
        has_cgroup = self.cg_mem is not None or self.cg_pids is not None
        if self.uid is not None and (not has_cgroup or self._cgroup_pids()):
            self._kill_uid()
        if has_cgroup:
            for _ in range(1000):
                pids = self._cgroup_pids()
                if not pids:
                    break
                if self.uid is not None:
                    self._kill_uid()
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                self._reap(blocking=False)
        # Orphans are re-parented to us (child subreaper); everything left was sent SIGKILL.
        self._reap(blocking=self.uid is not None or has_cgroup)

    def _clean_tmp(self):
        """Empty the private /tmp and /dev/shm (fresh tmpfs mounts of this zygote, shared with
        nothing): what one test leaves there never reaches the next."""
        for tmp in self.tmp_dirs:
            try:
                entries = os.listdir(tmp)
            except OSError:
                continue
            for name in entries:
                path = os.path.join(tmp, name)
                if path != self.work_root and path not in self.kept_in_scratch:
                    self._remove(path)

    # --- child ---------------------------------------------------------------------------------
    def _child_setup(
        self, workdir, stdin_fd, out_w, err_w, res_w, limits, binary_fd, code_w, status_w
    ):
        # Each source is copied above the target range first, so that placing one never closes
        # another that happened to sit on a target number.
        placed = [
            (stdin_fd, 0, True),
            (out_w, 1, True),
            (err_w, 2, True),
            (res_w, 3, True),
            # fexecve's binary (close-on-exec: the program never sees it), or the pipe the first
            # test of a Python request sends its compiled code on (closed before the solution runs).
            (binary_fd if binary_fd is not None else code_w, 4, code_w is not None),
            (status_w, STATUS_FD, False),
        ]
        high = [
            (fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, 64), target, inheritable)
            for source, target, inheritable in placed
            if source is not None
        ]
        for source, target, inheritable in high:
            os.dup2(source, target, inheritable=inheritable)
        self.report_fd = STATUS_FD
        os.setsid()
        for fd in self.cg_join_fds:
            os.write(fd, b"0")
        kept = {target for _, target, _ in high}
        for fd in range(STATUS_FD + 1):
            if fd not in kept:
                with contextlib.suppress(OSError):
                    os.close(fd)
        os.closerange(STATUS_FD + 1, 1 << 16)
        os.chdir(workdir)
        cpu = limits["cpu_s"]
        memory = limits["address_space_bytes"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_STACK, (limits["stack_bytes"], limits["stack_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.limit_processes:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        elif "user_ns" in self.config["layers"]:
            _drop_capabilities()
            # Inherited from the zygote, "not dumpable" would hide the test from the zygote's own
            # /proc reads (its memory watch): the zygote holds no capability in the namespace its
            # memory was set up in. The test is the caller's own process; the zygote stays hidden.
            _prctl(PR_SET_DUMPABLE, 1)
        if not self.no_new_privs_inherited:
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
        # Cleared by setuid(), so set after it. The environment (PATH, LANG, HOME and TMPDIR = the
        # working directory, nothing else) and SIGPIPE/SIGXFSZ at default come from the zygote.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def _run_python_child(self, code, mode, fn_name, args=(), exception_exit_code=1):
        """`args`: the program's command-line arguments (sys.argv[1:]; a checker's file names).
        `exception_exit_code`: the exit status of an uncaught exception (1, as CPython's; a
        checker's is testlib's FAIL, 3: a checker that crashes is a fault of the checker, never a
        wrong answer)."""
        # The recursion limit, the thread stack size and the (unused) standard streams over fds
        # 0-2 were set up in the zygote (main()); the child only installs the streams.
        sys.argv = ["solution.py", *args]
        sys.stdin = sys.__stdin__ = CHILD_STREAMS[0]
        sys.stdout = sys.__stdout__ = CHILD_STREAMS[1]
        sys.stderr = sys.__stderr__ = CHILD_STREAMS[2]
        # From here on failures are the solution's: the sandbox's own channel is gone.
        os.close(STATUS_FD)
        module = types.ModuleType("__main__")
        module.__file__ = "solution.py"
        if mode == "functional":
            module.__dict__.update(FUNCTIONAL_NAMESPACE)
        sys.modules["__main__"] = module
        exit_code = 0
        try:
            compiled = self._compiled(code)
            del code
            exec(compiled, module.__dict__)
            if mode == "functional":
                exit_code = self._call_function(module.__dict__, fn_name)
        except SystemExit as stop:
            if stop.code is None:
                exit_code = 0
            elif isinstance(stop.code, int):
                exit_code = stop.code & 0xFF
            else:
                print(stop.code, file=sys.stderr)
                exit_code = 1
        except MemoryError:
            exit_code = exception_exit_code
            print("MemoryError", file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            exit_code = exception_exit_code
        try:
            threading = sys.modules.get("threading")
            if threading is not None:
                threading._shutdown()
            atexit._run_exitfuncs()
        except BaseException:
            pass
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(exit_code)

    def _compiled(self, code):
        """The solution's code object: compiled here in the first test's child (untrusted source
        is never parsed in the zygote), which sends it on marshalled before running any of it;
        the later tests' children, forked with those bytes in memory, only unmarshal them."""
        if self.code_blob is not None:
            with contextlib.suppress(Exception):
                return marshal.loads(self.code_blob)
        compiled = compile(code, "solution.py", "exec")
        if self.sends_code:
            with contextlib.suppress(Exception):
                blob = marshal.dumps(compiled)
                view = memoryview(struct.pack("<Q", len(blob)) + blob)
                while view:
                    view = view[os.write(4, view) :]
            os.close(4)
        return compiled

    def _begin_run(self, request):
        """Drop the compiled code of the previous request unless this one continues the same
        solution: it asks to keep the code and sends the same source (a blob is only ever the
        compilation of that exact text, so a different solution can never run it)."""
        keep = request.get("keep_code", False)
        if not (keep and request.get("code") == self.code_source):
            self.code_blob = None
        self.code_source = request.get("code") if keep else None

    def _call_function(self, namespace, fn_name):
        # Python refuses int <-> str of over 4,300 digits by default: a test argument or a result
        # that long is lifted for the JSON conversions only, so the solution's own int/str
        # behaviour is what it would be anywhere else.
        get_digits = getattr(sys, "get_int_max_str_digits", None)

        @contextlib.contextmanager
        def any_integer_length():
            if get_digits is None:
                yield
                return
            limit = get_digits()
            sys.set_int_max_str_digits(0)
            try:
                yield
            finally:
                sys.set_int_max_str_digits(limit)

        raw_args = sys.stdin.read()
        with any_integer_length():
            args = json.loads(raw_args)
        if not isinstance(args, list):
            args = [args]
        solution_class = namespace.get("Solution")
        if isinstance(solution_class, type) and hasattr(solution_class, fn_name):
            target = getattr(solution_class(), fn_name)
        else:
            target = namespace.get(fn_name)
        if not callable(target):
            print(f"no callable named {fn_name!r}", file=sys.stderr)
            return 1
        value = target(*args)

        def plain(item):
            if isinstance(item, (set, frozenset)):
                return sorted(item, key=repr)
            raise TypeError(f"result of type {type(item).__name__} is not JSON serialisable")

        with any_integer_length():
            payload = json.dumps({"result": value}, default=plain, allow_nan=True).encode()
        view = memoryview(payload)
        while view:
            written = os.write(3, view)
            view = view[written:]
        return 0

    # --- one test ------------------------------------------------------------------------------
    def run_one(self, request, stdin_bytes, keep_workdir=False, files=None):
        """One test: `files` (name -> bytes) are written into the test's working directory first
        (a checker's input, contestant output and answer), readable by the program only."""
        limits = request["limits"]
        workdir = self.workdir
        try:
            for name, data in (files or {}).items():
                self._place_file(name, data)
        except BaseException:
            self._reset_workdir()
            raise
        memfd = os.memfd_create("stdin", MFD_CLOEXEC)
        view = memoryview(stdin_bytes)
        while view:
            view = view[os.write(memfd, view) :]
        os.lseek(memfd, 0, os.SEEK_SET)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        functional_python = request["kind"] == "python" and request["mode"] == "functional"
        res_r, res_w = os.pipe2(os.O_CLOEXEC) if functional_python else (None, None)
        binary_fd = None
        if request["kind"] == "binary":
            binary_fd = os.open(request["binary"], os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.cache_fd)
        self.sends_code = request["kind"] == "python" and self.code_blob is None
        code_r, code_w = os.pipe2(os.O_CLOEXEC) if self.sends_code else (None, None)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        if self.cg_mem is not None:
            self._set_memory_limit(limits["memory_bytes"])
            self._reset_peak()
        oom_before = self._oom_kills()
        # The test's first process is PID 1 of a namespace of its own: it sees no process of
        # anyone else, and when it ends the kernel ends every process it left behind.
        if self.pid_ns_fd is not None and LIBC.unshare(CLONE_NEWPID) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWPID) for a test failed")
        started = time.monotonic()
        self.report_fd = status_w
        try:
            pid = os.fork()
        finally:
            if self.pid_ns_fd is not None and LIBC.setns(self.pid_ns_fd, CLONE_NEWPID) != 0:
                # Every later fork would land in the test's namespace: start afresh instead.
                self.must_restart = True
        if pid == 0:
            try:
                self._child_setup(
                    workdir, memfd, out_w, err_w, res_w, limits, binary_fd, code_w, status_w
                )
                args = request.get("args") or []
                if request["kind"] == "python":
                    self._run_python_child(
                        request["code"],
                        request["mode"],
                        request.get("fn_name"),
                        args,
                        request.get("exception_exit_code", 1),
                    )
                elif request["kind"] == "binary":
                    os.execve(4, ["solution", *args], dict(os.environ))
                else:
                    argv = request["argv"]
                    os.execve(argv[0], argv, dict(os.environ))
            except BaseException:
                try:
                    os.write(self.report_fd, traceback.format_exc().encode()[-8192:])
                finally:
                    os._exit(121)
        for fd in (memfd, out_w, err_w, res_w, binary_fd, code_w, status_w):
            if fd is not None:
                os.close(fd)
        outcome, blobs, code_bytes = self._collect(
            pid, out_r, err_r, res_r, code_r, status_r, request, started
        )
        if code_bytes[8:] and struct.unpack("<Q", code_bytes[:8])[0] == len(code_bytes) - 8:
            self.code_blob = bytes(code_bytes[8:])
        outcome["oom_killed"] = self._oom_kills() > oom_before
        outcome["peak_memory_bytes"] = self._peak_memory()
        self._sweep(pid)
        if not keep_workdir:
            self._reset_workdir()
        self._clean_tmp()
        return outcome, blobs

    def _collect(self, pid, out_r, err_r, res_r, code_r, status_r, request, started):
        limits = request["limits"]
        deadline = started + limits["wall_s"]
        output_cap = limits["output_bytes"]
        pidfd = os.pidfd_open(pid)
        buffers = {out_r: bytearray(), err_r: bytearray()}
        caps = {out_r: output_cap, err_r: 65536}
        if res_r is not None:
            buffers[res_r] = bytearray()
            caps[res_r] = output_cap
        if code_r is not None:
            buffers[code_r] = bytearray()
            caps[code_r] = CODE_BLOB_CAP
        buffers[status_r] = bytearray()
        caps[status_r] = 8192
        poller = select.poll()
        for fd in buffers:
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        open_fds = set(buffers)
        timed_out = output_exceeded = memory_exceeded = False
        exited = False
        # Without a memory cgroup, the test's resident size is read every few ms and the test
        # stopped once over its limit (MLE, as its peak would say): otherwise only the address
        # space backstop (limit + 1 GiB per process) stops it, after zero-filling all of that. In
        # the sandbox's own PID namespace /proc lists only the test's processes, so the size is
        # the whole test's, as a cgroup would count it; elsewhere, its first process's.
        watch_memory = self.cg_mem is None
        memory_cap_pages = limits["memory_bytes"] // PAGE_SIZE
        next_watch = started + MEMORY_WATCH_S
        while open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if exited:
                remaining = 0
            elif watch_memory:
                now = time.monotonic()
                if now >= next_watch:
                    if self._resident_pages(pid) > memory_cap_pages:
                        memory_exceeded = True
                        break
                    next_watch = now + MEMORY_WATCH_S
                remaining = min(remaining, max(0.0, next_watch - now))
            events = poller.poll(remaining * 1000)
            if not events:
                if exited:
                    break
                continue
            for fd, _ in events:
                if fd == pidfd:
                    exited = True
                    poller.unregister(pidfd)
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                buffer = buffers[fd]
                if len(buffer) + len(chunk) > caps[fd]:
                    buffer += chunk[: max(0, caps[fd] - len(buffer))]
                    if fd not in (err_r, code_r, status_r):
                        output_exceeded = True
                else:
                    buffer += chunk
            if output_exceeded:
                break
        if timed_out or output_exceeded or memory_exceeded or not exited:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        for fd in list(buffers) + [pidfd]:
            os.close(fd)
        outcome = {
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "wall_s": wall,
            "max_rss_kb": usage.ru_maxrss,
            "timed_out": timed_out,
            "output_exceeded": output_exceeded,
            "memory_exceeded": memory_exceeded,
            # Written only by the child's own set-up, before the solution holds any fd.
            "setup_error": buffers[status_r].decode("utf-8", "replace") or None,
        }
        blobs = [bytes(buffers[out_r]), bytes(buffers[err_r][-8192:])]
        blobs.append(bytes(buffers[res_r]) if res_r is not None else b"")
        return outcome, blobs, buffers[code_r] if code_r is not None else b""

    def _resident_pages(self, pid):
        """Resident pages of the test: every process /proc lists but this zygote (the sandbox's
        PID namespace holds only the test's), or the test's first process outside one."""
        if self.pid_ns_fd is not None and "proc_private" in self.config["layers"]:
            pids = [entry for entry in os.listdir("/proc") if entry.isdigit() and entry != "1"]
        else:
            pids = [str(pid)]
        total = 0
        for entry in pids:
            try:
                with open(f"/proc/{entry}/statm", "rb") as handle:
                    total += int(handle.read(128).split()[1])
            except (OSError, ValueError, IndexError):  # the process is gone
                continue
        return total

    def _place_file(self, name, data):
        """Write `data` as `name` in the (fresh, empty) working directory, owned by the sandbox
        uid; a plain name only (the parent checks it too), never following a link."""
        if not name or "/" in name or "\0" in name or name in (".", "..") or name[0] == ".":
            raise ValueError(f"bad file name {name!r}")
        directory = os.open(
            self.workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        )
        try:
            fd = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=directory,
            )
        finally:
            os.close(directory)
        try:
            if self.uid is not None:
                os.fchown(fd, self.uid, self.uid)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def compile(self, request, source, extra=()):
        """Compile untrusted C++ inside the jail, then publish the binary into the cache (as root).
        `extra`: the contents of `request["files"]` (graders, headers, testlib.h), written next to
        the source; those named in `request["sources"]` are compiled and linked with it."""
        limits = request["limits"]
        workdir = self.workdir
        names = request.get("files") or []
        try:
            self._place_file("solution.cpp", source)
            for name, data in zip(names, extra, strict=True):
                self._place_file(name, data)
        except BaseException:
            self._reset_workdir()
            raise
        sources = [name for name in request.get("sources") or [] if name in names]
        results = []
        binary_path = os.path.join(workdir, "solution")
        for argv in request["attempts"]:
            command = [*argv, "solution.cpp", *sources, "-o", "solution"]
            sub = dict(request, kind="argv", argv=command)
            sub["limits"] = limits
            outcome, blobs = self.run_one(sub, b"", keep_workdir=True)
            results.append((outcome, blobs))
            if outcome["exit_code"] == 0 and os.path.exists(binary_path):
                # Every zygote is PID 1 of its own namespace: the pid names no writer uniquely.
                temp_name = f".{request['key']}.{os.urandom(8).hex()}.tmp"
                # The compiler ran as the sandbox: what it left is read without following links.
                source_fd = os.open(binary_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(source_fd, "rb") as handle:
                    data = handle.read()
                fd = os.open(
                    temp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755, dir_fd=self.cache_fd
                )
                os.fchmod(fd, 0o755)  # executable by the sandbox uid whatever our umask
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.rename(
                    temp_name, request["key"], src_dir_fd=self.cache_fd, dst_dir_fd=self.cache_fd
                )
                break
        self._reset_workdir()
        outcome, blobs = results[-1]
        outcome["attempts"] = len(results)
        return outcome, blobs

    def serve(self, req_fd, resp_fd):
        reader = open(req_fd, "rb", buffering=0, closefd=False)  # noqa: SIM115 - the request stream

        def read_exact(count):
            data = bytearray()
            while len(data) < count:
                chunk = reader.read(count - len(data))
                if not chunk:
                    os._exit(0)
                data += chunk
            return bytes(data)

        def send(header, blobs):
            header["blob_sizes"] = [len(blob) for blob in blobs]
            encoded = json.dumps(header).encode()
            payload = b"".join([struct.pack("<I", len(encoded)), encoded, *blobs])
            view = memoryview(payload)
            while view:
                view = view[os.write(resp_fd, view) :]

        while True:
            (size,) = struct.unpack("<I", read_exact(4))
            request = json.loads(read_exact(size))
            blobs = [read_exact(length) for length in request.pop("blob_sizes")]
            op = request["op"]
            try:
                if op == "run":
                    self._begin_run(request)
                    outcomes, out_blobs = [], []
                    # Each test: its stdin, then one blob per name of `file_names` (files the
                    # program finds in its working directory, e.g. a checker's three).
                    names = request.get("file_names") or []
                    step = 1 + len(names)
                    for start in range(0, len(blobs), step):
                        files = dict(zip(names, blobs[start + 1 : start + step], strict=True))
                        outcome, produced = self.run_one(request, blobs[start], files=files)
                        outcomes.append(outcome)
                        out_blobs += produced
                    if not request.get("keep_code"):
                        self.code_blob = self.code_source = None
                    send({"ok": True, "outcomes": outcomes}, out_blobs)
                elif op == "compile":
                    outcome, produced = self.compile(request, blobs[0], blobs[1:])
                    send({"ok": True, "outcome": outcome}, produced)
                elif op == "ping":
                    send({"ok": True, "pid": os.getpid()}, [])
                else:
                    send({"ok": False, "error": f"unknown op {op!r}"}, [])
            except Exception:
                send({"ok": False, "error": traceback.format_exc()}, [])
            del request, blobs
            if self.must_restart:
                os._exit(0)


def main():
    req_fd, resp_fd = int(sys.argv[1]), int(sys.argv[2])
    config = json.loads(sys.argv[3])
    # Default dispositions for the children (Python starts with both ignored).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    # Inherited by the children (set here once rather than in each of them).
    sys.argv = ["solution.py"]
    sys.setrecursionlimit(10_000)
    # A thread's stack as on a usual Linux host (8 MiB, the default RLIMIT_STACK; glibc would
    # otherwise take the zygote's 1 GiB). Every thread reserves it in the address space, whose
    # backstop is the memory limit + 1 GiB: at 64 MiB, 40 threads under 128 MB could not start
    # (RE where a judge says TLE). Solutions that recurse deep in a thread set their own size.
    _thread.stack_size(8 * 1024 * 1024)
    CHILD_STREAMS.extend(make_child_streams())
    layers, notes = setup(config)
    config["layers"] = layers
    zygote = Zygote(config, layers)
    hello = json.dumps({"layers": layers, "notes": notes, "uid": config["uid"]}).encode()
    os.write(resp_fd, struct.pack("<I", len(hello)) + hello)
    zygote.serve(req_fd, resp_fd)


if __name__ == "__main__":
    main()

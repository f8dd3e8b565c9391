"""Sandbox zygote: a pre-warmed, isolated Python process that forks one jailed child per test.

Run as a script (`python -I -S _zygote.py REQ_FD RESP_FD CONFIG_JSON`) by `ocr2_kedro.execution.sandbox`;
it imports only the standard library. The zygote never receives expected outputs: it gets solution
code (or the name of a compiled binary) plus test inputs, and sends back raw run facts (exit status,
CPU and wall time, stdout, stderr tail, functional result) for the parent to judge.

Setup, once per zygote (as root where allowed): a new network namespace (loopback down, no routes),
a private mount namespace with fresh tmpfs over /tmp, /var/tmp and /dev/shm and empty tmpfs over the
hidden paths (project root, home) with only the interpreter prefix and the read-only compile cache
bound back in. Per test child: new session and process group, cgroup (memory, pids) join, rlimits,
private working directory, all other fds closed, empty environment, setgid/setuid to this zygote's
unprivileged uid, no_new_privs, parent-death signal; then the solution runs (Python in-process, so no
interpreter start-up; C++ by fexecve of the cached binary). After each test: every process of the
test killed and reaped, the working directory and the private tmp dirs emptied.

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
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
MFD_CLOEXEC = 1
CODE_BLOB_CAP = 64 << 20

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


def setup_mounts(config, layers, notes):
    """Private mount namespace: fresh tmp dirs, hidden paths with only the needed ones bound back."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    tmp_dirs = [tmp for tmp in ("/tmp", "/dev/shm", "/var/tmp") if os.path.isdir(tmp)]
    staging_root = tmp_dirs[-1]
    keep = [(path, True) for path in config["keep_readonly"]] + [
        (path, False) for path in config["keep"]
    ]
    keep = [(path, readonly) for path, readonly in keep if os.path.isdir(path)]
    # Stage the paths to keep on a scratch tmpfs before their parents are covered.
    _mount("ocr2stage", staging_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m")
    staged = []
    for index, (path, readonly) in enumerate(keep):
        stage = os.path.join(staging_root, f"keep{index}")
        os.mkdir(stage, 0o700)
        _mount(path, stage, None, MS_BIND | MS_REC, None)
        staged.append((path, stage, readonly))
    hidden = []
    for path in tmp_dirs[:-1]:
        _mount("ocr2tmp", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g")
        hidden.append(path)
    for path in config["hide"]:
        if not os.path.isdir(path) or path == "/" or path in tmp_dirs:
            continue
        _mount("ocr2hide", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        hidden.append(path)
    for path, stage, readonly in staged:
        if any(_inside(path, root) for root in hidden + [staging_root]):
            os.makedirs(path, 0o755, exist_ok=True)
            _mount(stage, path, None, MS_BIND | MS_REC, None)
            if readonly:
                _mount(
                    None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None
                )
        _umount(stage)
    _umount(staging_root)
    _mount("ocr2tmp", staging_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g")
    for root in hidden:
        if root not in tmp_dirs:
            _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")
    layers.append("mount_ns")
    notes.append("hidden: " + ", ".join(hidden))


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


def setup(config):
    layers, notes = [], []
    config["cache_fd"] = (
        os.open(config["cache_dir"], os.O_RDONLY | os.O_DIRECTORY) if config["cache_dir"] else None
    )
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != config["parent_pid"]:
        os._exit(0)
    if config["use_namespaces"]:
        if LIBC.unshare(CLONE_NEWNET) == 0:
            layers.append("net_ns")
        else:
            notes.append(f"net_ns unavailable: {os.strerror(ctypes.get_errno())}")
        if LIBC.unshare(CLONE_NEWNS) == 0:
            try:
                setup_mounts(config, layers, notes)
            except OSError as error:
                notes.append(f"mount_ns setup failed: {error}")
        else:
            notes.append(f"mount_ns unavailable: {os.strerror(ctypes.get_errno())}")
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
    # Inherited by every child and irrevocable, so setting it once here is the same as per child;
    # it does not restrict setuid() in the zygote's helpers, only privilege gain through execve.
    config["no_new_privs_inherited"] = _prctl(PR_SET_NO_NEW_PRIVS, 1) == 0
    if config["cgroup_memory"]:
        layers.append("cgroup_memory")
    if config["cgroup_pids"]:
        layers.append("cgroup_pids")
    layers += ["session", "rlimits", "private_tmp", "empty_env", "close_fds", "no_new_privs"]
    layers.append("pdeathsig")
    return layers, notes


class Zygote:
    def __init__(self, config):
        self.config = config
        self.uid = config["uid"]
        self.work_root = config["work_root"]
        self.cache_fd = config["cache_fd"]
        self.cg_mem = config["cgroup_memory"]
        self.cg_pids = config["cgroup_pids"]
        self.cg_version = config["cgroup_version"]
        self.current_memory_limit = None
        self.tmp_stamps = {}
        # Marshalled code object of the Python solution being served (see _compiled), and its
        # source when a request asked to keep it for the next request (see _begin_run).
        self.code_blob = None
        self.code_source = None
        self.sends_code = False
        self.kept_paths = [self.work_root, *config["keep"], *config["keep_readonly"]]
        self.must_restart = False
        self.no_new_privs_inherited = config.get("no_new_privs_inherited", False)
        os.makedirs(self.work_root, 0o711, exist_ok=True)
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
            os.open(os.path.join(group, "cgroup.procs"), os.O_WRONLY | flags)
            for group in (self.cg_mem, self.cg_pids)
            if group
        ]
        self.oom_fd = self.peak_fd = None
        if self.cg_mem:
            name = "memory.events" if self.cg_version == 2 else "memory.oom_control"
            with contextlib.suppress(OSError):
                self.oom_fd = os.open(os.path.join(self.cg_mem, name), os.O_RDONLY | flags)
            if self.cg_version == 1:
                with contextlib.suppress(OSError):
                    self.peak_fd = os.open(
                        os.path.join(self.cg_mem, "memory.max_usage_in_bytes"), os.O_RDWR | flags
                    )

    def _reset_workdir(self):
        """Leave the working directory empty, 0700 and owned by the sandbox uid."""
        try:
            os.rmdir(self.workdir)
        except FileNotFoundError:
            pass
        except OSError:
            self._remove(self.workdir)
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
            os.lchown(stale, 0, 0)
            if not os.path.islink(stale):
                os.chmod(stale, 0)

    # --- cgroups -------------------------------------------------------------------------------
    def _write(self, path, value):
        with open(path, "w") as handle:
            handle.write(str(value))

    def _set_memory_limit(self, limit_bytes):
        if not self.cg_mem or limit_bytes == self.current_memory_limit:
            return
        if self.cg_version == 2:
            self._write(os.path.join(self.cg_mem, "memory.max"), limit_bytes)
            swap = os.path.join(self.cg_mem, "memory.swap.max")
            if os.path.exists(swap):
                self._write(swap, 0)
        else:
            memsw = os.path.join(self.cg_mem, "memory.memsw.limit_in_bytes")
            limit = os.path.join(self.cg_mem, "memory.limit_in_bytes")
            raising = self.current_memory_limit is None or limit_bytes > self.current_memory_limit
            order = [memsw, limit] if raising else [limit, memsw]
            for path in order:
                if os.path.exists(path):
                    try:
                        self._write(path, limit_bytes)
                    except OSError:
                        if path == limit:
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
            if group:
                try:
                    fd = os.open(os.path.join(group, "cgroup.procs"), os.O_RDONLY | os.O_CLOEXEC)
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
        """Kill everything the test started: its process group, its cgroups, and (by uid) the rest."""
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
        has_cgroup = bool(self.cg_mem or self.cg_pids)
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

    @staticmethod
    def _dir_stamp(path):
        st = os.stat(path)
        return (st.st_size, st.st_nlink, st.st_mtime_ns, st.st_ctime_ns)

    def _clean_tmp(self):
        """Empty the private /tmp, /var/tmp and /dev/shm (fresh tmpfs mounts of this zygote).

        A directory whose stamp is unchanged since it was last emptied is skipped: on tmpfs a
        directory's size grows with every entry added (link, create, rename in), and the only entry
        left after emptying (the root-owned work root, in a sticky directory) cannot be removed or
        renamed by the sandbox uid, so an unchanged size means no new entry, whatever the clock
        granularity of the times.
        """
        for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
            if not self.config["private_tmp_mounts"]:
                break
            try:
                if self.tmp_stamps.get(tmp) == self._dir_stamp(tmp):
                    continue
                entries = os.listdir(tmp)
            except OSError:
                continue
            for name in entries:
                path = os.path.join(tmp, name)
                # The work root and the paths bound back in (with the root-owned directories made
                # to hold them, which the sandbox uid cannot write to) stay.
                if any(_inside(kept, path) for kept in self.kept_paths):
                    continue
                self._remove(path)
            with contextlib.suppress(OSError):
                self.tmp_stamps[tmp] = self._dir_stamp(tmp)

    # --- child ---------------------------------------------------------------------------------
    def _child_setup(
        self, workdir, stdin_fd, out_w, err_w, res_w, limits, binary_fd=None, code_w=None
    ):
        os.setsid()
        for fd in self.cg_join_fds:
            os.write(fd, b"0")
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        if res_w is not None:
            os.dup2(res_w, 3)
        if binary_fd is not None:
            # Kept (close-on-exec) for fexecve; the program never sees it.
            os.dup2(binary_fd, 4, inheritable=False)
        elif code_w is not None:
            # Where the first test of a Python request sends its compiled code (closed before the
            # solution runs).
            os.dup2(code_w, 4)
        # Everything else goes, including whatever of the zygote's own fds sat at 3 or 4 (its
        # request pipe did: fd 4 used to stay open in Python children).
        if res_w is None:
            os.closerange(3, 4)
        if binary_fd is None and code_w is None:
            os.closerange(4, 5)
        os.closerange(5, 1 << 16)
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
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        if not self.no_new_privs_inherited:
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
        # Cleared by setuid(), so set after it. The environment (PATH, LANG, HOME and TMPDIR = the
        # working directory, nothing else) and SIGPIPE/SIGXFSZ at default come from the zygote.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def _run_python_child(self, code, mode, fn_name):
        # sys.argv, the recursion limit, the thread stack size and the (unused) standard streams
        # over fds 0-2 were set up in the zygote (main()); the child only installs the streams.
        sys.stdin = sys.__stdin__ = CHILD_STREAMS[0]
        sys.stdout = sys.__stdout__ = CHILD_STREAMS[1]
        sys.stderr = sys.__stderr__ = CHILD_STREAMS[2]
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
            exit_code = 1
            print("MemoryError", file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            exit_code = 1
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
        raw_args = sys.stdin.read()
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

        payload = json.dumps({"result": value}, default=plain, allow_nan=True).encode()
        view = memoryview(payload)
        while view:
            written = os.write(3, view)
            view = view[written:]
        return 0

    # --- one test ------------------------------------------------------------------------------
    def run_one(self, request, stdin_bytes, keep_workdir=False):
        limits = request["limits"]
        workdir = self.workdir
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
        if self.cg_mem:
            self._set_memory_limit(limits["memory_bytes"])
            self._reset_peak()
        oom_before = self._oom_kills()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                self._child_setup(workdir, memfd, out_w, err_w, res_w, limits, binary_fd, code_w)
                if request["kind"] == "python":
                    self._run_python_child(request["code"], request["mode"], request.get("fn_name"))
                elif request["kind"] == "binary":
                    os.execve(4, ["solution"], dict(os.environ))
                else:
                    argv = request["argv"]
                    os.execve(argv[0], argv, dict(os.environ))
            except BaseException:
                try:
                    os.write(2, ("sandbox child setup failed:\n" + traceback.format_exc()).encode())
                finally:
                    os._exit(121)
        for fd in (memfd, out_w, err_w, res_w, binary_fd, code_w):
            if fd is not None:
                os.close(fd)
        outcome, blobs, code_bytes = self._collect(
            pid, out_r, err_r, res_r, code_r, request, started
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

    def _collect(self, pid, out_r, err_r, res_r, code_r, request, started):
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
        poller = select.poll()
        for fd in buffers:
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        open_fds = set(buffers)
        timed_out = output_exceeded = False
        exited = False
        while open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if exited:
                remaining = 0
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
                    if fd not in (err_r, code_r):
                        output_exceeded = True
                else:
                    buffer += chunk
            if output_exceeded:
                break
        if timed_out or output_exceeded or not exited:
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
        }
        blobs = [bytes(buffers[out_r]), bytes(buffers[err_r][-8192:])]
        blobs.append(bytes(buffers[res_r]) if res_r is not None else b"")
        return outcome, blobs, buffers[code_r] if code_r is not None else b""

    def compile(self, request, source):
        """Compile untrusted C++ inside the jail, then publish the binary into the cache (as root)."""
        limits = request["limits"]
        workdir = self.workdir
        with open(os.path.join(workdir, "solution.cpp"), "wb") as handle:
            handle.write(source)
        if self.uid is not None:
            os.chown(os.path.join(workdir, "solution.cpp"), self.uid, self.uid)
        results = []
        binary_path = os.path.join(workdir, "solution")
        for argv in request["attempts"]:
            sub = dict(request, kind="argv", argv=[*argv, "solution.cpp", "-o", "solution"])
            sub["limits"] = limits
            outcome, blobs = self.run_one(sub, b"", keep_workdir=True)
            results.append((outcome, blobs))
            if outcome["exit_code"] == 0 and os.path.exists(binary_path):
                temp_name = f".{request['key']}.{os.getpid()}.tmp"
                with open(binary_path, "rb") as handle:
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
                    for stdin_bytes in blobs:
                        outcome, produced = self.run_one(request, stdin_bytes)
                        outcomes.append(outcome)
                        out_blobs += produced
                    if not request.get("keep_code"):
                        self.code_blob = self.code_source = None
                    send({"ok": True, "outcomes": outcomes}, out_blobs)
                elif op == "compile":
                    outcome, produced = self.compile(request, blobs[0])
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
    _thread.stack_size(64 * 1024 * 1024)
    CHILD_STREAMS.extend(make_child_streams())
    layers, notes = setup(config)
    config["private_tmp_mounts"] = "mount_ns" in layers
    zygote = Zygote(config)
    hello = json.dumps({"layers": layers, "notes": notes, "uid": config["uid"]}).encode()
    os.write(resp_fd, struct.pack("<I", len(hello)) + hello)
    zygote.serve(req_fd, resp_fd)


if __name__ == "__main__":
    main()

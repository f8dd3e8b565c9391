"""Parent side of the sandbox: starts and talks to a zygote (`_zygote.py`), one per worker slot.

A `Sandbox` owns one zygote process isolated in its own namespaces (`_zygote.py`): as root, with one
unprivileged host uid for its tests (leased host-wide with a lock file so that two sandboxes never
share a uid) and one cgroup per controller (memory, pids) where the host lets us create them; as a
normal user, inside an unprivileged user namespace. It restarts its zygote when the zygote dies and
reports which isolation layers are in force (`Sandbox.layers`). Untrusted code does not run with less
than a network namespace, a private file system view, a PID namespace per test and an identity of
its own (`REQUIRED_LAYERS`) unless `allow_weak_isolation` says so: otherwise the first request raises
`SandboxUnavailable`, naming what the host lacks.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import pwd
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ZYGOTE_SCRIPT = Path(__file__).with_name("_zygote.py")
# Host uids leased to sandboxes when running as root: far from the ranges distributions hand out
# (system and login users, systemd's DynamicUser 61184-65519, container subuid ranges from 100000),
# and each one is still checked against the user database and running processes before use.
DEFAULT_UID_RANGE = range(2_000_000_000, 2_000_001_000)
# Lease files live where only root can create entries (another user could otherwise pre-create them).
UID_LEASE_DIR = "/run/ocr2_kedro/sandbox_uids"
# layer (or alternatives) -> what the minimum isolation needs it for.
REQUIRED_LAYERS = {
    ("net_ns",): "no network (a network namespace)",
    ("minimal_root",): "a private read-only file system view (a mount namespace and pivot_root)",
    ("pid_ns",): "no process outside its test to see or signal (a PID namespace per test)",
    ("setuid", "user_ns"): "an identity of its own (a leased uid as root, or a user namespace)",
}
WEAK_ISOLATION_SETTING = "allow_weak_isolation"
_LOGGED: set[str] = set()


def log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.warning(message)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the solution): becomes verdict SE after retries."""


class SandboxUnavailable(RuntimeError):
    """The host cannot give the minimum isolation and no setting accepts less: ends the run before
    the first solution runs (never a verdict)."""


def missing_layers(layers: list[str]) -> list[str]:
    """What of `REQUIRED_LAYERS` is not in `layers`, as descriptions."""
    return [need for names, need in REQUIRED_LAYERS.items() if not set(names) & set(layers)]


def unavailable_message(missing: list[str], notes: list[str]) -> str:
    lines = [
        "The sandbox cannot isolate untrusted code on this host. Missing:",
        *(f"  - {need}" for need in missing),
    ]
    if notes:
        lines += ["The host said:", *(f"  - {note}" for note in notes)]
    lines += [
        "Fix: run where unprivileged user namespaces are enabled (sysctl user.max_user_namespaces > 0;",
        "kernel.unprivileged_userns_clone=1 on kernels that have it; Ubuntu 24.04+: "
        "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile allowing userns), or",
        "run as root (a container). To run with what the host gives, set "
        f"`verify.{WEAK_ISOLATION_SETTING}: true` (evaluation: "
        f"`evaluation.execution.{WEAK_ISOLATION_SETTING}: true`);",
        "the layers in force are then recorded on every row.",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run; the wall limit covers sleeping or blocked solutions.

    The wall deadline is max(wall_factor x time limit, time limit + wall_slack_s). The defaults
    (2x, at least 1 s above) leave a solution near the limit room on a loaded host, at the price of
    a timed-out test costing up to twice the limit; evaluation uses wall_factor 1 with a small
    slack, so that a time-out costs about the limit, as under LiveCodeBench's per-test alarm.
    """

    time_limit_s: float = 2.0
    memory_limit_mb: int = 256
    output_limit_mb: int = 16
    file_size_mb: int = 16
    open_files: int = 64
    processes: int = 64
    wall_factor: float = 2.0
    wall_slack_s: float = 1.0

    def to_wire(self) -> dict:
        memory_bytes = int(self.memory_limit_mb) * 1024 * 1024
        return {
            # Whole seconds (the kernel's unit), never below the limit: the CPU-time verdict itself
            # comes from the measured CPU time (`classify`); this only stops a runaway early.
            "cpu_s": max(1, math.ceil(self.time_limit_s)),
            "wall_s": max(
                self.time_limit_s * self.wall_factor, self.time_limit_s + self.wall_slack_s
            ),
            "memory_bytes": memory_bytes,
            # The address-space limit is a backstop where cgroups are missing; threads and the
            # interpreter's own mappings need head room above the resident limit.
            "address_space_bytes": memory_bytes + 1024 * 1024 * 1024,
            # The zygote starts with a 1 GiB stack limit: children cannot go above it.
            "stack_bytes": min(memory_bytes, 1 << 30),
            "file_bytes": int(self.file_size_mb) * 1024 * 1024,
            "output_bytes": int(self.output_limit_mb) * 1024 * 1024,
            "open_files": int(self.open_files),
            "processes": int(self.processes),
        }


@dataclass
class CgroupSlot:
    version: int | None = None
    memory: str | None = None
    pids: str | None = None
    created: list[str] = field(default_factory=list)

    def remove(self) -> None:
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        self.created.clear()


def _own_cgroups() -> dict[str, str]:
    """Controller name -> this process's cgroup path ("" key for the v2 unified hierarchy)."""
    own = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    return own


def _v1_mounts() -> dict[str, str]:
    mounts = {}
    with contextlib.suppress(OSError), open("/proc/self/mounts") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 4 and parts[2] == "cgroup":
                for option in parts[3].split(","):
                    if option in ("memory", "pids"):
                        mounts[option] = parts[1]
    return mounts


def _v2_root() -> str | None:
    with contextlib.suppress(OSError), open("/proc/self/mounts") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "cgroup2":
                return parts[1]
    return None


def _remove_stale_slots(parent: str) -> None:
    """Remove empty sandbox cgroups left by processes that died without closing their sandboxes."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            parts = entry.split("_")
            stale = len(parts) == 4 and entry.startswith("ocr2_sandbox_") and parts[2].isdigit()
            if stale and not os.path.exists(f"/proc/{parts[2]}"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(parent, entry))


def create_cgroup_slot(name: str) -> CgroupSlot:
    """Create memory and pids cgroups for one sandbox (v1 controllers first, else v2); may be empty."""
    slot = CgroupSlot()
    if os.geteuid() != 0:
        log_once(
            "cgroups: not root, so no memory/pids cgroups: memory is limited by sampling the "
            "resident size, processes by RLIMIT_NPROC in the sandbox's user namespace"
        )
        return slot
    own = _own_cgroups()
    v1 = _v1_mounts()
    for controller in ("memory", "pids"):
        if controller in v1:
            path = os.path.join(v1[controller], own.get(controller, "/").lstrip("/"), name)
            _remove_stale_slots(os.path.dirname(path))
            try:
                os.makedirs(path, exist_ok=True)
                slot.created.append(path)
                setattr(slot, controller, path)
                slot.version = 1
            except OSError as error:
                log_once(f"cgroup v1 {controller} not writable ({error}); skipped")
    missing = [c for c in ("memory", "pids") if getattr(slot, c) is None]
    root = _v2_root()
    if missing and root:
        controllers_file = os.path.join(root, "cgroup.controllers")
        available = (
            Path(controllers_file).read_text().split() if os.path.exists(controllers_file) else []
        )
        wanted = [c for c in missing if c in available]
        if wanted:
            parent = os.path.join(root, own.get("", "/").lstrip("/"))
            path = os.path.join(parent, name)
            try:
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as handle:
                    handle.write(" ".join(f"+{c}" for c in wanted))
                os.makedirs(path, exist_ok=True)
                slot.created.append(path)
                for controller in wanted:
                    setattr(slot, controller, path)
                slot.version = slot.version or 2
            except OSError as error:
                log_once(f"cgroup v2 controllers {wanted} not usable ({error}); skipped")
    if slot.pids:
        pids_max = os.path.join(slot.pids, "pids.max")
        with contextlib.suppress(OSError), open(pids_max, "w") as handle:
            handle.write(str(Limits().processes))
    if slot.version == 2 and slot.memory and slot.pids and slot.memory != slot.pids:
        slot.version = None
    return slot


def parse_uid_range(value: str | range | None) -> range:
    """A uid range from "first-last" (inclusive), a range, or None (the default)."""
    if value is None:
        return DEFAULT_UID_RANGE
    if isinstance(value, range):
        return value
    first, sep, last = str(value).partition("-")
    try:
        uids = range(int(first), int(last) + 1)
    except ValueError:
        uids = range(0)
    if not sep or not uids or uids.start < 1000 or uids.stop - 1 > 4_294_967_294:
        raise ValueError(
            f"sandbox uid range must be 'first-last' within 1000-4294967294, not {value!r}"
        )
    return uids


def uids_in_use() -> set[int]:
    """Uids of the user database and of every running process (real, effective, saved, fs)."""
    used = {entry.pw_uid for entry in pwd.getpwall()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{entry}/status") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    used.update(int(uid) for uid in line.split()[1:5])
                    break
    return used


def _private_directory(path: str) -> int:
    """Open (creating, mode 0700) a directory only root can write to, refusing links and
    directories another user owns or may write into; returns an O_DIRECTORY fd."""
    parts = [part for part in path.split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            is_ours = index >= 1  # /run itself is the system's; below it we create
            if is_ours:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
            child = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
            os.close(fd)
            fd = child
            info = os.fstat(fd)
            if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise SandboxError(
                    f"sandbox uid leases: {'/' + '/'.join(parts[: index + 1])} is not a directory "
                    "only root can write to; remove it"
                )
        return fd
    except BaseException:
        os.close(fd)
        raise


class _UidLease:
    """Reserve a sandbox uid host-wide for this process's lifetime (flock on a lock file in a
    root-only directory, opened without following links); uids of real users or of running
    processes are never leased."""

    def __init__(self, uids: range = DEFAULT_UID_RANGE, lease_dir: str = UID_LEASE_DIR) -> None:
        self.uid: int | None = None
        self._handle: int | None = None
        directory = _private_directory(lease_dir)
        try:
            in_use = None
            for uid in uids:
                try:
                    handle = os.open(
                        f"{uid}.lock",
                        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                        0o600,
                        dir_fd=directory,
                    )
                except OSError:  # a link or something else put there: not ours to use
                    continue
                info = os.fstat(handle)
                if not stat.S_ISREG(info.st_mode) or info.st_uid != 0:
                    os.close(handle)
                    continue
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(handle)
                    continue
                in_use = uids_in_use() if in_use is None else in_use
                if uid in in_use:
                    # A real user or a live process has it (a stale sandbox child included).
                    os.close(handle)
                    continue
                self.uid, self._handle = uid, handle
                return
        finally:
            os.close(directory)
        raise SandboxError(
            f"no free sandbox uid in {uids.start}-{uids.stop - 1} (all leased, or used by users "
            "or processes): set verify.sandbox_uids to another range"
        )

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


def _tool_prefixes() -> list[str]:
    """Directories outside /usr the sandbox must see read-only: the interpreter's prefix (pyenv,
    conda, a module system's) and the C++ compiler's."""
    prefixes = [os.path.realpath(sys.base_prefix)]
    compiler = which_or_none("g++")
    if compiler:
        prefixes.append(os.path.dirname(os.path.dirname(compiler)))
    return [
        prefix
        for prefix in dict.fromkeys(prefixes)
        if prefix != "/" and not (prefix + "/").startswith("/usr/")
    ]


class Sandbox:
    """One zygote and its uid and cgroups. Thread-safe: requests are serialised."""

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        disable: tuple[str, ...] = (),
        allow_weak_isolation: bool = False,
        uid_range: str | range | None = None,
    ) -> None:
        """`disable` switches layers off ("namespaces", "setuid", "cgroups"): the degraded mode a
        host without them gets, kept testable on a host that has them (it needs
        `allow_weak_isolation`). `uid_range`: the host uids leased to sandboxes as root."""
        unknown = set(disable) - {"namespaces", "setuid", "cgroups"}
        if unknown:
            raise ValueError(f"unknown sandbox layers to disable: {sorted(unknown)}")
        self.cache_dir = os.path.realpath(cache_dir)
        os.makedirs(self.cache_dir, exist_ok=True)
        self.allow_weak_isolation = bool(allow_weak_isolation)
        self.is_root = os.geteuid() == 0
        self.use_namespaces = "namespaces" not in disable
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        uids = parse_uid_range(uid_range)
        self._uid_lease = _UidLease(uids) if self.is_root and "setuid" not in disable else None
        self.uid = self._uid_lease.uid if self._uid_lease else None
        name = f"ocr2_sandbox_{os.getpid()}_{self.uid or id(self)}"
        self._cgroups = CgroupSlot() if "cgroups" in disable else create_cgroup_slot(name)
        self.layers: list[str] = []
        self.notes: list[str] = []
        self.restarts = 0
        self._host_work_root: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def _start(self) -> None:
        interpreter = os.path.realpath(sys.executable)
        config = {
            "parent_pid": os.getpid(),
            "uid": self.uid,
            "isolate": self.use_namespaces,
            # Not root: the namespaces come from an unprivileged user namespace.
            "user_ns": not self.is_root,
            "binds": [*_tool_prefixes(), self.cache_dir],
            "cache_dir": self.cache_dir,
            # Used only where the private file system view cannot be made.
            "host_work_root": self._work_root(),
            "cgroup_version": self._cgroups.version,
            "cgroup_memory": self._cgroups.memory,
            "cgroup_pids": self._cgroups.pids,
        }
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()

        def big_stack() -> None:
            # A large stack limit at exec time moves mmap_base down, so forked children can
            # grow their stack up to the per-test limit (deep recursion, as on real judges).
            import resource

            resource.setrlimit(resource.RLIMIT_STACK, (1 << 30, 1 << 30))

        self._process = subprocess.Popen(
            [
                interpreter,
                "-I",
                "-S",
                "-B",
                str(ZYGOTE_SCRIPT),
                str(req_r),
                str(resp_w),
                json.dumps(config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # The zygote's own tracebacks (never the children's) go to our stderr when debugging.
            stderr=None if os.environ.get("OCR2_SANDBOX_DEBUG") else subprocess.DEVNULL,
            pass_fds=(req_r, resp_w),
            env={},
            cwd="/",
            close_fds=True,
            start_new_session=True,
            preexec_fn=big_stack,
        )
        os.close(req_r)
        os.close(resp_w)
        self._req = req_w
        self._resp = os.fdopen(resp_r, "rb", buffering=0)
        hello = self._read_frame_header()
        self.layers = hello["layers"]
        self.notes = hello["notes"]
        for note in self.notes:
            log.debug("sandbox: %s", note)
        if "setuid" not in self.layers:
            self.uid = None
        missing = missing_layers(self.layers)
        if missing and not self.allow_weak_isolation:
            self._stop()
            raise SandboxUnavailable(unavailable_message(missing, self.notes))
        if missing:
            log_once(
                "sandbox: running untrusted code with weak isolation "
                f"({WEAK_ISOLATION_SETTING}): missing " + "; ".join(missing)
            )

    def _work_root(self) -> str:
        if self._host_work_root is None:
            self._host_work_root = tempfile.mkdtemp(prefix="ocr2_sandbox_")
            os.chmod(self._host_work_root, 0o711)
        return self._host_work_root

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                os.close(self._req)
            with contextlib.suppress(OSError):
                self._resp.close()
            with contextlib.suppress(OSError):
                self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        with self._lock:
            self._stop()
            self._cgroups.remove()
            if self._host_work_root:
                shutil.rmtree(self._host_work_root, ignore_errors=True)
                self._host_work_root = None
            if self._uid_lease:
                self._uid_lease.release()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # --- wire --------------------------------------------------------------------------------
    def _read_exact(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self._resp.read(count - len(data))
            if not chunk:
                raise SandboxError("zygote closed its pipe")
            data += chunk
        return bytes(data)

    def _read_frame_header(self) -> dict:
        (size,) = struct.unpack("<I", self._read_exact(4))
        return json.loads(self._read_exact(size))

    def _request(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        with self._lock:
            for attempt in range(2):
                if not self._alive():
                    if self._process is not None:
                        self.restarts += 1
                        self._stop()
                    self._start()
                try:
                    message = dict(header, blob_sizes=[len(blob) for blob in blobs])
                    encoded = json.dumps(message).encode()
                    payload = b"".join([struct.pack("<I", len(encoded)), encoded, *blobs])
                    view = memoryview(payload)
                    while view:
                        view = view[os.write(self._req, view) :]
                    reply = self._read_frame_header()
                    reply_blobs = [self._read_exact(size) for size in reply.pop("blob_sizes")]
                except (OSError, SandboxError, ValueError) as error:
                    self._stop()
                    if attempt == 1:
                        raise SandboxError(f"zygote failed twice: {error}") from error
                    continue
                if not reply.get("ok"):
                    raise SandboxError(reply.get("error", "zygote error"))
                return reply, reply_blobs
        raise SandboxError("unreachable")

    def ensure_started(self) -> list[str]:
        self._request({"op": "ping"}, [])
        return list(self.layers)

    # --- operations --------------------------------------------------------------------------
    def run_python(
        self,
        code: str,
        inputs: list[bytes],
        limits: Limits,
        mode: str = "stdin",
        fn_name: str | None = None,
        keep_code: bool = False,
        args: tuple[str, ...] = (),
        files: list[dict[str, bytes]] | None = None,
        exception_exit_code: int = 1,
    ) -> list[tuple[dict, bytes, bytes, bytes]]:
        """Run `code` once per input. `keep_code`: the zygote keeps the solution's compiled code
        after this request for the next request with the same source (one test per request, as
        when stopping at the first failure, still compiles the solution once); without it the
        code is dropped at the end of the request. `args`, `files` (one mapping of file name ->
        bytes per input, the same names in each: written into that run's working directory) and
        `exception_exit_code` (the exit status of an uncaught exception): for checkers."""
        header = {"op": "run", "kind": "python", "code": code, "mode": mode, "fn_name": fn_name}
        header["keep_code"] = keep_code
        header["exception_exit_code"] = int(exception_exit_code)
        header["limits"] = limits.to_wire()
        return self._unpack(self._request(*_with_files(header, inputs, args, files)))

    def run_binary(
        self,
        binary: str,
        inputs: list[bytes],
        limits: Limits,
        args: tuple[str, ...] = (),
        files: list[dict[str, bytes]] | None = None,
    ) -> list[tuple[dict, bytes, bytes, bytes]]:
        """Run the cached binary `binary` once per input (`args`, `files`: as for run_python)."""
        header = {"op": "run", "kind": "binary", "binary": binary, "mode": "stdin"}
        header["limits"] = limits.to_wire()
        return self._unpack(self._request(*_with_files(header, inputs, args, files)))

    def compile(
        self,
        source: bytes,
        key: str,
        attempts: list[list[str]],
        limits: Limits,
        files: tuple[tuple[str, bytes], ...] = (),
        sources: tuple[str, ...] = (),
    ) -> tuple[dict, bytes]:
        """Compile `source` (as solution.cpp) with each of `attempts` until one succeeds; `files`
        (name, bytes) are written next to it, and those named in `sources` compiled and linked
        with it (IOI graders; a checker's testlib.h)."""
        header = {
            "op": "compile",
            "key": key,
            "attempts": attempts,
            "limits": limits.to_wire(),
            "mode": "stdin",
            "files": [name for name, _ in files],
            "sources": list(sources),
        }
        reply, blobs = self._request(header, [source, *(data for _, data in files)])
        return reply["outcome"], blobs[0] + blobs[1]

    @staticmethod
    def _unpack(reply: tuple[dict, list[bytes]]) -> list[tuple[dict, bytes, bytes, bytes]]:
        header, blobs = reply
        return [
            (outcome, blobs[3 * index], blobs[3 * index + 1], blobs[3 * index + 2])
            for index, outcome in enumerate(header["outcomes"])
        ]


def _with_files(
    header: dict, inputs: list[bytes], args: tuple[str, ...], files: list[dict[str, bytes]] | None
) -> tuple[dict, list[bytes]]:
    """The request's header and blobs: each input followed by its files' contents (the zygote
    writes them into that run's working directory), and the program's arguments."""
    header["args"] = [str(arg) for arg in args]
    if not files:
        return header, list(inputs)
    if len(files) != len(inputs):
        raise ValueError(f"{len(files)} file sets for {len(inputs)} inputs")
    names = list(files[0])
    header["file_names"] = names
    blobs: list[bytes] = []
    for stdin, test_files in zip(inputs, files, strict=True):
        if list(test_files) != names:
            raise ValueError("every input needs the same file names")
        blobs += [stdin, *(test_files[name] for name in names)]
    return header, blobs


def probe_isolation(allow_weak_isolation: bool = False, uid_range: str | None = None) -> list[str]:
    """Start a sandbox once, as a run would, and return its layers: `SandboxUnavailable` (what is
    missing, and the setting that accepts less) before any work when the host cannot isolate."""
    with tempfile.TemporaryDirectory(prefix="ocr2_sandbox_probe_") as cache:
        sandbox = Sandbox(cache, allow_weak_isolation=allow_weak_isolation, uid_range=uid_range)
        try:
            return sandbox.ensure_started()
        finally:
            sandbox.close()


def default_cache_dir() -> str:
    base = os.environ.get("OCR2_SANDBOX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "ocr2_kedro", "cpp"
    )
    return base


def which_or_none(name: str) -> str | None:
    found = shutil.which(name)
    return os.path.realpath(found) if found else None

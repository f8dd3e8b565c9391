"""Parent side of the sandbox: starts and talks to a zygote (`_zygote.py`), one per worker slot.

A `Sandbox` owns one zygote process, one unprivileged uid (reserved host-wide with a lock file so that
two sandboxes never share a uid: `kill(-1)` or RLIMIT_NPROC in one cannot touch another), and one
cgroup per controller (memory, pids) where the host lets us create them. It restarts its zygote when
the zygote dies and reports which isolation layers are in force (`Sandbox.layers`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ZYGOTE_SCRIPT = Path(__file__).with_name("_zygote.py")
UID_RANGE = range(61000, 62000)
_LOGGED: set[str] = set()


def log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.warning(message)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the solution): becomes verdict SE after retries."""


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
        log_once("cgroups: not root, memory/pids cgroups disabled (rlimits only)")
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


class _UidLease:
    """Reserve a sandbox uid host-wide for this process's lifetime (flock on a lock file)."""

    lock_dir = Path(tempfile.gettempdir()) / "ocr2_kedro_sandbox_uids"

    def __init__(self) -> None:
        self.uid: int | None = None
        self._handle = None
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        for uid in UID_RANGE:
            handle = open(self.lock_dir / f"{uid}.lock", "w")  # noqa: SIM115 - held for the lease
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.uid, self._handle = uid, handle
            return
        raise SandboxError("no free sandbox uid")

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _hidden_paths(extra: list[str]) -> list[str]:
    candidates = [os.getcwd(), os.path.expanduser("~"), *extra]
    paths = []
    for path in candidates:
        real = os.path.realpath(path)
        if (
            real not in ("/", "/usr", "/bin", "/lib", "/etc", "/proc", "/sys", "/dev")
            and real not in paths
        ):
            paths.append(real)
    return paths


class Sandbox:
    """One zygote and its uid and cgroups. Thread-safe: requests are serialised."""

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        hide: list[str] | None = None,
        disable: tuple[str, ...] = (),
    ) -> None:
        """`disable` switches layers off ("namespaces", "setuid", "cgroups"): the degraded mode a
        host without them gets, kept testable on a host that has them."""
        unknown = set(disable) - {"namespaces", "setuid", "cgroups"}
        if unknown:
            raise ValueError(f"unknown sandbox layers to disable: {sorted(unknown)}")
        self.cache_dir = os.path.realpath(cache_dir)
        os.makedirs(self.cache_dir, exist_ok=True)
        self.extra_hidden = list(hide or [])
        self.use_namespaces = os.geteuid() == 0 and "namespaces" not in disable
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._uid_lease = _UidLease() if os.geteuid() == 0 and "setuid" not in disable else None
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
        prefix = os.path.realpath(sys.base_prefix)
        config = {
            "parent_pid": os.getpid(),
            "uid": self.uid,
            "use_namespaces": self.use_namespaces,
            "keep": [prefix],
            "keep_readonly": [self.cache_dir],
            "hide": _hidden_paths(self.extra_hidden),
            "cache_dir": self.cache_dir,
            # Inside the private /tmp when namespaced; otherwise a fresh host directory.
            "work_root": self._work_root(),
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
            log_once(f"sandbox: {note}")
        if "setuid" not in self.layers:
            self.uid = None

    def _work_root(self) -> str:
        if self.use_namespaces:
            return "/tmp/ocr2_sandbox"
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
    ) -> list[tuple[dict, bytes, bytes, bytes]]:
        """Run `code` once per input. `keep_code`: the zygote keeps the solution's compiled code
        after this request for the next request with the same source (one test per request, as
        when stopping at the first failure, still compiles the solution once); without it the
        code is dropped at the end of the request."""
        header = {"op": "run", "kind": "python", "code": code, "mode": mode, "fn_name": fn_name}
        header["keep_code"] = keep_code
        header["limits"] = limits.to_wire()
        return self._unpack(self._request(header, inputs))

    def run_binary(
        self, binary: str, inputs: list[bytes], limits: Limits
    ) -> list[tuple[dict, bytes, bytes, bytes]]:
        header = {"op": "run", "kind": "binary", "binary": binary, "mode": "stdin"}
        header["limits"] = limits.to_wire()
        return self._unpack(self._request(header, inputs))

    def compile(
        self, source: bytes, key: str, attempts: list[list[str]], limits: Limits
    ) -> tuple[dict, bytes]:
        header = {
            "op": "compile",
            "key": key,
            "attempts": attempts,
            "limits": limits.to_wire(),
            "mode": "stdin",
        }
        reply, blobs = self._request(header, [source])
        return reply["outcome"], blobs[0] + blobs[1]

    @staticmethod
    def _unpack(reply: tuple[dict, list[bytes]]) -> list[tuple[dict, bytes, bytes, bytes]]:
        header, blobs = reply
        return [
            (outcome, blobs[3 * index], blobs[3 * index + 1], blobs[3 * index + 2])
            for index, outcome in enumerate(header["outcomes"])
        ]


def default_cache_dir() -> str:
    base = os.environ.get("OCR2_SANDBOX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "ocr2_kedro", "cpp"
    )
    return base


def which_or_none(name: str) -> str | None:
    found = shutil.which(name)
    return os.path.realpath(found) if found else None

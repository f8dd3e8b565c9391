"""Data parallelism for in-process backends: N worker processes, each holding its own engine on its own
slice of devices (for vLLM: `tensor_parallel_size` GPUs each), requests split between them.

vLLM's `LLM` refuses `data_parallel_size > 1` in one process, so data parallelism is this pool of
independent engines; it works for the transformers backend as well.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Mapping, Sequence

from ocr2_kedro.generation.base import BackendBase, ChatRequest, Completion, SamplingConfig

logger = logging.getLogger(__name__)


def device_slices(size: int, per_worker: int, visible: str | None) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES for each worker: consecutive groups of `per_worker` devices.

    `visible` is the parent's CUDA_VISIBLE_DEVICES (None: devices 0..N-1). Without CUDA the workers
    share the CPU and no variable is set.
    """
    if visible is None:
        try:
            import torch

            count = torch.cuda.device_count()
        except ImportError:
            count = 0
        if count == 0:
            return [None] * size
        devices = [str(i) for i in range(count)]
    else:
        devices = [d for d in visible.split(",") if d.strip()]
    needed = size * per_worker
    if len(devices) < needed:
        raise ValueError(
            f"data parallel {size} x {per_worker} devices per worker needs {needed} devices, "
            f"{len(devices)} visible"
        )
    return [",".join(devices[i * per_worker : (i + 1) * per_worker]) for i in range(size)]


def _worker(config: dict, visible_devices: str | None, connection) -> None:
    if visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible_devices
    from ocr2_kedro.generation import create_backend

    try:
        backend = create_backend(config)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready", os.getpid()))
    with backend:
        while True:
            message = connection.recv()
            if message is None:
                break
            requests, sampling = message
            try:
                connection.send(("ok", backend.generate(requests, sampling)))
            except BaseException as error:  # noqa: BLE001
                connection.send(("error", f"{type(error).__name__}: {error}"))


class DataParallelBackend(BackendBase):
    """`size` workers each running `config` (a backend config with data parallelism removed)."""

    def __init__(self, config: Mapping, size: int, devices_per_worker: int = 1) -> None:
        from ocr2_kedro.generation.vllm_backend import _spawn_without_main_module

        if size < 2:
            raise ValueError("DataParallelBackend needs at least 2 workers")
        self.model_name = str(config["model"])
        self.size = size
        context = multiprocessing.get_context("spawn")
        slices = device_slices(size, devices_per_worker, os.environ.get("CUDA_VISIBLE_DEVICES"))
        self._connections = []
        self._processes = []
        # Workers start engines of their own (vLLM spawns again), so they are not daemons.
        with _spawn_without_main_module():
            for rank, visible in enumerate(slices):
                parent, child = context.Pipe()
                process = context.Process(
                    target=_worker, args=(dict(config), visible, child), name=f"dp-worker-{rank}"
                )
                process.start()
                self._connections.append(parent)
                self._processes.append(process)
        self.worker_pids = []
        for rank, connection in enumerate(self._connections):
            status, value = connection.recv()
            if status != "ready":
                self.close()
                raise RuntimeError(f"data parallel worker {rank} failed to start: {value}")
            self.worker_pids.append(value)
        logger.info("data parallel: %d workers ready (%s)", size, slices)

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        if not requests:
            return []
        # Contiguous slices keep a question's samples on one engine (prefix caching).
        bounds = [len(requests) * rank // self.size for rank in range(self.size + 1)]
        parts = [list(requests[bounds[r] : bounds[r + 1]]) for r in range(self.size)]
        for connection, part in zip(self._connections, parts, strict=True):
            connection.send((part, sampling))
        completions: list[Completion] = []
        failures = []
        for rank, connection in enumerate(self._connections):
            status, value = connection.recv()
            if status == "ok":
                completions.extend(value)
            else:
                failures.append(f"worker {rank}: {value}")
        if failures:
            raise RuntimeError("data parallel generation failed: " + "; ".join(failures))
        return completions

    def close(self) -> None:
        for connection in self._connections:
            with contextlib.suppress(BrokenPipeError, OSError):  # a worker that already died
                connection.send(None)
        for process in self._processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()
        self._connections, self._processes = [], []

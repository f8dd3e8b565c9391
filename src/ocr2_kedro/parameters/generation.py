"""Settings of the `generation` stage (conf/<env>/parameters_generation.yml): the teacher, what it
is asked (languages, samples per question, the question token budget) and how (sampling, backend),
with resumable shards and job-array drivers."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import PositiveInt, model_validator

from ocr2_kedro.parameters.backends import (
    BackendBlock,
    DriversSettings,
    ResumeSettings,
    SamplingSettings,
    model_requirement,
)
from ocr2_kedro.parameters.base import Requirement, Settings

Language = Literal["python", "cpp"]


class LanguageNamespace(Settings):
    """`generation.<language>`: the parameters of that language's request-template namespace."""

    language: Language


class GenerationSettings(BackendBlock):
    model: str  # "embedded", a local checkpoint directory or a hub id (openai: the served name)
    tokenizer: str | None  # for the question budget; null: the model's own
    languages: list[Language]
    samples_per_question: PositiveInt
    system_prompt: str | None
    max_question_tokens: PositiveInt | None  # null: no budget
    reject_code_in_reasoning: bool
    sampling: SamplingSettings
    resume: ResumeSettings
    drivers: DriversSettings
    python: LanguageNamespace
    cpp: LanguageNamespace

    @model_validator(mode="after")
    def _namespaces_name_their_language(self) -> GenerationSettings:
        for key in ("python", "cpp"):
            if getattr(self, key).language != key:
                raise ValueError(
                    f"{key}.language is {getattr(self, key).language!r}: the {key} request "
                    f"namespace builds {key} prompts"
                )
        return self

    @property
    def budget_tokenizer(self) -> str | None:
        """The tokenizer that counts prompt tokens for the budget (None: no budget)."""
        return (self.tokenizer or self.model) if self.max_question_tokens else None

    def requirements(self) -> list[Requirement]:
        found = self.backend_requirements("generation", self.model)
        # The budget counts with the teacher's tokenizer; one named explicitly must be there
        # (without one, a count of ~4 characters per token is used instead, and said so).
        if self.max_question_tokens and self.tokenizer and self.tokenizer != self.model:
            tokenizer = model_requirement(self.tokenizer, "generation.tokenizer", "tokenizer")
            found.append(
                replace(
                    tokenizer,
                    hint=f"{tokenizer.hint}; or generation.tokenizer: null (the model's own)",
                )
            )
        return found

"""The evaluation stage's settings (conf/<env>/parameters_evaluation.yml): the benchmark, how much
of it (a seeded subset per source) and in which languages, sampling and self-critique, the sandbox,
reference loss, summary breakdowns, the backend, and the models under evaluation (`models`: one
namespace `evaluation.<model>` each; the pipeline is built from this list, so adding a model is one
YAML entry). An ablation variant's evaluation settings are the same model over merged overrides
(`ocr2_kedro.parameters.project`)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveInt, model_validator

from ocr2_kedro.parameters.backends import (
    Backend,
    BackendBlock,
    JudgementFollowUp,
    ResumeSettings,
    SamplingSettings,
    SweepSampling,
    model_requirement,
)
from ocr2_kedro.parameters.base import Requirement, Settings
from ocr2_kedro.parameters.execution import (
    Flag,
    JudgingSettings,
    PositiveInteger,
    PositiveNumber,
    cpp_compiler_requirements,
)

Language = Literal["python", "cpp"]  # what the sandbox runs (schemas.LANGUAGES)
Languages = Annotated[list[Language], Field(min_length=1)]
Breakdown = Literal["difficulty", "platform", "source"]  # metrics.evaluation.BREAKDOWNS
Fallback = Literal["random", "shortest", "fail"]  # metrics.FALLBACKS


class SelfCritiqueSettings(Settings):
    """The evaluated model judges each of its own samples that has code; from k samples the one
    judged right with the shortest critique reasoning is selected (pass@1|select@k), and when none
    is judged right, `fallback` decides: random (uniform among the k) | shortest | fail."""

    enabled: bool
    fallback: Fallback
    sampling: SamplingSettings
    judgement_follow_up: JudgementFollowUp


class GenSelectSettings(Settings):
    """GenSelect beside self-critique: per problem, language and temperature, `subsets` seeded
    k-subsets of the n samples (all C(n, k) when there are no more; the same subsets for every
    model) for each k of `ks`; the model reads a subset's candidates (code only) and names one,
    one request per subset (none when at most one candidate has code). An answer that names no
    candidate falls back to `fallback`: first (the first candidate shown) | random (uniform: the
    subset's mean pass) | fail; counted as genselect_unparsed (metrics.selection)."""

    enabled: bool
    # A k above samples_per_problem (e.g. an ablation's n = 1) is skipped with a warning, as pass@k
    # skips a k above a problem's n.
    ks: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=1)]
    subsets: PositiveInt
    # At most this many problems per language get GenSelect (those whose hash of (seed, question_id)
    # ranks first: the same problems for every model and run); null: every problem. A cost knob
    # for the embedded default; the selectors' rows then stand on those problems.
    problems_per_language: PositiveInt | None
    seed: int
    fallback: Literal["first", "random", "fail"]  # metrics.selection.GENSELECT_FALLBACKS
    sampling: SamplingSettings


class IoiSettings(Settings):
    """IOI scoring of the problems with subtasks (metrics.ioi): at most `submission_limit`
    submissions per problem (IOI's 50), chosen from the n samples by `choose`: first (by sample
    index) | random (seeded by `seed`) | self_critique (the self-critique selector's order: judged
    right first, shorter critique first, the others by self_critique.fallback)."""

    submission_limit: PositiveInt
    choose: Literal["first", "random", "self_critique"]  # metrics.ioi.CHOICES
    seed: int


class EvaluationExecution(JudgingSettings):
    """The sandbox's judging settings. Beside the shared ones, evaluation accepts (not set in
    conf/base) fixed limits that replace each problem's own, a C++ compile cache folder and the
    precompiled-header switch, as verify does; null: the engine's default."""

    time_limit_s: PositiveNumber | None = None
    memory_limit_mb: PositiveInteger | None = None
    cache_dir: Annotated[str, Field(min_length=1)] | None = None
    use_pch: Flag | None = None


class ReferenceLossSettings(Settings):
    """Per-token loss of each model on the reference solutions (teacher forcing)."""

    enabled: bool
    max_length: PositiveInt
    batch_size: PositiveInt
    dtype: str


class ReferencesSettings(Settings):
    # Which benchmark source the bundled-layout references (source_id + solutions) belong to.
    source: str


class BootstrapSettings(Settings):
    resamples: PositiveInt
    seed: int


# A contest-date window: problems with from <= contest_date < to (either bound may be left out).
DateWindow = dict[Literal["from", "to"], datetime.date | None]


class SubsetSettings(Settings):
    """Which benchmark problems are evaluated: per source, a seeded sample of `per_source[source]`
    problems (null or a source not listed: all of its problems). The sample is the same on every run
    and machine, and nested: a smaller size picks a subset of what a larger one picks
    (`pipelines.evaluation.nodes.benchmark_subset`)."""

    seed: int
    per_source: dict[Annotated[str, Field(min_length=1)], PositiveInt | None]


class EvaluatedModel(Settings):
    """One model under evaluation, namespace `evaluation.<name>` (`name` is its key under
    `models`). It evaluates `path` (a checkpoint directory, hub id or, with the openai backend, a
    served model's name) when set, else the latest version of the dataset `checkpoint` names (a
    training stage's checkpoint, or `untrained_student`). `backend` replaces evaluation.backend for
    this model."""

    name: str
    checkpoint: str | None
    path: str | None
    backend: Backend | None

    @model_validator(mode="after")
    def _something_to_evaluate(self) -> EvaluatedModel:
        if self.checkpoint is None and self.path is None:
            raise ValueError(
                "checkpoint and path are both null: name the checkpoint dataset to evaluate "
                "(e.g. sft_stage1_checkpoint) or a model path / hub id"
            )
        return self


class EvaluationSettings(BackendBlock):
    languages: Annotated[list[Language], Field(min_length=1)]
    # Source -> the languages its problems can be asked in (HumanEval: Python only); a problem is
    # asked in those of `languages`, and a source not listed in every one of `languages`.
    source_languages: dict[Annotated[str, Field(min_length=1)], Languages]
    subset: SubsetSettings
    samples_per_problem: PositiveInt  # n
    ks: Annotated[list[PositiveInt], Field(min_length=1)]  # within 1..n
    # The first is the headline temperature; more give the temperature sweep.
    temperatures: Annotated[list[NonNegativeFloat], Field(min_length=1)]
    system_prompt: str | None
    sampling: SweepSampling  # at each of `temperatures`
    self_critique: SelfCritiqueSettings
    ioi: IoiSettings
    genselect: GenSelectSettings
    execution: EvaluationExecution
    reference_loss: ReferenceLossSettings
    references: ReferencesSettings
    breakdowns: list[Breakdown]
    windows: dict[str, DateWindow] | None  # name -> {from, to}
    bootstrap: BootstrapSettings
    resume: ResumeSettings
    models: Annotated[dict[str, EvaluatedModel], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _models_named_by_their_keys(cls, data: Any) -> Any:
        # A model's name is its key; written out, it must agree (checked below).
        if isinstance(data, Mapping) and isinstance(data.get("models"), Mapping):
            models = {
                key: {"name": key, **value} if isinstance(value, Mapping) else value
                for key, value in data["models"].items()
            }
            data = {**data, "models": models}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationSettings:
        problems = []
        outside = [k for k in self.ks if k > self.samples_per_problem]
        if outside:
            problems.append(
                f"ks {outside} are not within 1..samples_per_problem ({self.samples_per_problem}): "
                "pass@k and select@k need k <= n"
            )
        for key, model in self.models.items():
            if model.name != key:
                problems.append(f"models.{key}.name is {model.name!r}; it must be its key {key!r}")
            if model.backend is not None:
                problem = self.backend_problem(model.backend)
                if problem:
                    problems.append(f"models.{key}.backend: {problem}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def languages_of(self, source: str) -> list[str]:
        """The languages a problem of `source` is asked in: those of `languages` its source can be
        asked in (none for HumanEval when only C++ is evaluated, e.g. an ablation variant's)."""
        allowed = self.source_languages.get(source)
        return [language for language in self.languages if allowed is None or language in allowed]

    def backend_of(self, model: EvaluatedModel | Any) -> str:
        """The backend `model` runs on: its own, else evaluation.backend."""
        return model.backend or self.backend

    def requirements(self) -> list[Requirement]:
        """Per model: its backend's module, GPUs and endpoints, and the model at `path` when one is
        set (a checkpoint is made by the run itself); g++ when C++ is evaluated."""
        found: list[Requirement] = []
        for key, model in self.models.items():
            backend = self.backend_of(model)
            needs = self.backend_requirements("evaluation", None, backend)
            if model.backend is not None:
                # The module is asked for by the model's own backend setting.
                needs = [
                    replace(need, path=f"evaluation.models.{key}.backend")
                    if need.kind == "component"
                    else need
                    for need in needs
                ]
            found += needs
            if model.path is not None and backend != "openai":
                found.append(model_requirement(model.path, f"evaluation.models.{key}.path"))
        found += cpp_compiler_requirements(self.languages, "evaluation.languages")
        # One of each: models that share a backend need its module and GPUs once.
        unique: dict[tuple[str, str], Requirement] = {}
        for requirement in found:
            unique.setdefault((requirement.kind, str(requirement.value)), requirement)
        return list(unique.values())

"""All stages' settings of one run, validated in one pass.

`validate_parameters(raw)` takes the parameters as Kedro's config loader made them (conf/base,
the run's environment, `--params`), validates every stage with its model, resolves every ablation
variant (OmegaConf merge of the sweep's and the variant's overrides over the run's training and
evaluation parameters, validated by the same models), and raises one ParametersError listing every
problem with its full path. Nothing else in the project validates settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ocr2_kedro.parameters import STAGES, stage_model
from ocr2_kedro.parameters.ablations import AblationsSettings, VariantSettings
from ocr2_kedro.parameters.base import (
    ParametersError,
    Settings,
    merge_overrides,
    validate_settings,
)


class ProjectSettings:
    """Every stage's validated settings; `at("evaluation.base.model")` walks them like Kedro's
    `params:` names."""

    def __init__(self, stages: Mapping[str, Settings]):
        self.stages = dict(stages)

    def __getitem__(self, stage: str) -> Settings:
        return self.stages[stage]

    def at(self, path: str) -> Any:
        """The settings (a model, a sub-model or a value) at a dotted parameter path; KeyError when
        the path does not name a setting."""
        stage, *rest = path.split(".")
        value: Any = self.stages[stage]
        for part in rest:
            if isinstance(value, Settings) and part in type(value).model_fields:
                value = getattr(value, part)
            elif isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                raise KeyError(path)
        return value

    def requirements(self, stages: set[str] | None = None) -> list:
        """What the given stages' settings (all by default) need from the machine and network."""
        found = [
            requirement
            for name, settings in self.stages.items()
            if stages is None or name in stages
            for requirement in settings.requirements()
        ]
        if (
            "verify" in self.stages
            and "generation" in self.stages
            and (stages is None or "verify" in stages)
        ):
            from ocr2_kedro.parameters.execution import cpp_compiler_requirements

            # verify judges what generation asked for: its languages say whether C++ is compiled.
            found += [
                dataclasses.replace(requirement, needed_by="verify")
                for requirement in cpp_compiler_requirements(
                    self.stages["generation"].languages, "generation.languages"
                )
            ]
        if "patterns" in self.stages and (stages is None or "patterns" in stages):
            found += self.stages["patterns"].classifier_requirements(self.stages["critique"])
        return found


def validate_parameters(raw: Mapping[str, Any]) -> ProjectSettings:
    from ocr2_kedro.generation.openai_backend import refuse_literal_api_keys

    refuse_literal_api_keys(dict(raw))
    problems: list[str] = []
    unknown = sorted(set(raw) - set(STAGES))
    problems += [
        f"{key}: unknown top-level parameter (stages: {', '.join(STAGES)})" for key in unknown
    ]
    stages: dict[str, Settings] = {}
    for stage in STAGES:
        if stage not in raw:
            problems.append(f"{stage}: missing (conf/base/parameters_{stage}.yml)")
            continue
        try:
            stages[stage] = validate_settings(stage_model(stage), raw[stage], stage)
        except ParametersError as error:
            problems += error.problems
    if {"patterns", "critique"} <= set(stages):
        try:  # the pattern classifier is the critic with `patterns.critic` over it
            stages["patterns"].classifier(stages["critique"])
        except ParametersError as error:
            problems += error.problems
            del stages["patterns"]
    if {"training", "evaluation", "ablations"} <= set(stages):
        try:
            stages["ablations"] = resolve_variants(
                stages["ablations"], raw["training"], raw["evaluation"]
            )
        except ParametersError as error:
            problems += error.problems
            del stages["ablations"]  # variants without their merged settings are not usable
    if problems:
        error = ParametersError(problems)
        # What did validate, so that a start-up check can report the machine's problems of those
        # stages in the same message.
        error.partial = ProjectSettings(stages)
        raise error
    return ProjectSettings(stages)


def resolve_variants(
    ablations: AblationsSettings, training: Mapping, evaluation: Mapping
) -> AblationsSettings:
    """`ablations` with every variant carrying its merged, validated training and evaluation
    settings: the run's, then `sweep_overrides` (when enabled), then the variant's own. Each
    variant trains in its own folder (work_dir/ablations/<variant>)."""
    training_model, evaluation_model = stage_model("training"), stage_model("evaluation")
    common = ablations.sweep_overrides
    shared_training, shared_evaluation = training, evaluation
    problems: list[str] = []
    if common.enabled:
        shared_training = merge_overrides(training, common.training)
        shared_evaluation = merge_overrides(evaluation, common.evaluation)
        for section, model, merged in (
            ("training", training_model, shared_training),
            ("evaluation", evaluation_model, shared_evaluation),
        ):
            try:
                validate_settings(model, merged, f"ablations.sweep_overrides.{section}")
            except ParametersError as error:
                problems += error.problems
        if problems:
            raise ParametersError(problems)
    sweeps: dict[str, dict[str, VariantSettings]] = {}
    for sweep, variants in ablations.sweeps.items():
        sweeps[sweep] = {}
        for name, variant in variants.items():
            path = f"ablations.sweeps.{sweep}.{name}"
            merged = []
            for section, model, shared, override in (
                ("training", training_model, shared_training, variant.training),
                ("evaluation", evaluation_model, shared_evaluation, variant.evaluation),
            ):
                try:
                    merged.append(
                        validate_settings(
                            model, merge_overrides(shared, override), f"{path}.{section}"
                        )
                    )
                except ParametersError as error:
                    problems += error.problems
            if len(merged) < 2:
                continue
            trained, evaluated = merged
            trained = trained.model_copy(
                update={"work_dir": f"{trained.work_dir}/ablations/{name}"}
            )
            sweeps[sweep][name] = variant.resolved(trained, evaluated)
    if problems:
        raise ParametersError(problems)
    return ablations.model_copy(update={"sweeps": sweeps})

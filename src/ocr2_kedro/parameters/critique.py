"""Settings of the `critique` stage (conf/<env>/parameters_critique.yml): the critic, which
samples it judges, the judgement follow-up turn and how it samples (backend, sampling), with
resumable shards and job-array drivers."""

from __future__ import annotations

from ocr2_kedro.parameters.backends import (
    BackendBlock,
    DriversSettings,
    JudgementFollowUp,
    ResumeSettings,
    SamplingSettings,
)
from ocr2_kedro.parameters.base import Requirement


class CritiqueSettings(BackendBlock):
    model: str  # "embedded", a local checkpoint directory or a hub id (openai: the served name)
    system_prompt: str | None
    only_unflagged: bool  # critique only samples that passed every generation filter
    judgement_follow_up: JudgementFollowUp
    sampling: SamplingSettings
    resume: ResumeSettings
    drivers: DriversSettings

    def requirements(self) -> list[Requirement]:
        return self.backend_requirements("critique", self.model)

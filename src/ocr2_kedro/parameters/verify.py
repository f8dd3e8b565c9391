"""The verify stage's settings (conf/<env>/parameters_verify.yml): the judging settings shared with
evaluation (`JudgingSettings`), plus verify's own limit overrides, compile cache, Ray pool,
batching and resume folder."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, Strict

from ocr2_kedro.parameters.base import Requirement, Settings
from ocr2_kedro.parameters.execution import (
    Flag,
    JudgingSettings,
    PositiveInteger,
    PositiveNumber,
)

Directory = Annotated[str, Strict(), Field(min_length=1)]


class VerifyResumeSettings(Settings):
    # Every judged batch is stored under <shard_dir>/<verdict key> (null: off).
    shard_dir: Directory | None


class VerifySettings(JudgingSettings):
    backend: Literal["local", "ray"]  # threads with one warm sandbox each | Ray actors
    ray_address: Annotated[str, Strict()] | None  # null: a local Ray instance
    ray_batch_size: PositiveInteger
    time_limit_s: PositiveNumber | None  # null: the problem's own limit
    memory_limit_mb: PositiveInteger | None
    cache_dir: Directory | None  # C++ compile cache; null: the sandbox's default
    use_pch: Flag
    batch_rows: PositiveInteger  # generations read, judged and written at a time
    resume: VerifyResumeSettings

    POOL_FIELDS: ClassVar[tuple[str, ...]] = (
        "workers",
        "progress",
        "backend",
        "ray_address",
        "ray_batch_size",
    )
    NODE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_rows", "resume")

    def requirements(self) -> list[Requirement]:
        if self.backend != "ray":
            return []
        return [
            Requirement(
                kind="component",
                value="ray",
                path="verify.backend",
                hint='install ray[data] (a project dependency: pip install -e ".") or set '
                "verify.backend: local",
            )
        ]

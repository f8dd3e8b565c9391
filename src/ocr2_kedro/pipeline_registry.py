"""Project pipelines: every pipeline under pipelines/ plus the composite registrations."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The distilled-dataset job, in order: ingestion through dataset export.
DISTILL = ("ingestion", "dedup", "generation", "critique", "verify", "dataset")


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    distill = sum((pipelines[name] for name in DISTILL if name in pipelines), Pipeline([]))
    pipelines["distill"] = distill
    pipelines["__default__"] = sum(
        (pipe for name, pipe in pipelines.items() if name not in {"distill", "__default__"}),
        Pipeline([]),
    )
    return pipelines

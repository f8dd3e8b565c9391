"""Project pipelines: every pipeline under pipelines/ plus the composite registrations."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.framework.project import pipelines as project_pipelines
from kedro.pipeline import Pipeline

# The distilled-dataset job, in order: ingestion through dataset export.
DISTILL = ("ingestion", "dedup", "generation", "critique", "verify", "dataset")


def register_pipelines() -> dict[str, Pipeline]:
    # `kedro run --pipelines distill` makes Kedro's lazy loader look for a package named "distill";
    # composites need every member, so discovery always covers all pipelines.
    project_pipelines.set_requested(None)
    pipelines = find_pipelines(raise_errors=True)
    whole_chain = sum(pipelines.values(), Pipeline([]))
    pipelines["distill"] = sum(
        (pipelines[name] for name in DISTILL if name in pipelines), Pipeline([])
    )
    pipelines["__default__"] = whole_chain
    return pipelines

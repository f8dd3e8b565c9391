"""Project pipelines: every pipeline under pipelines/ plus the composite registrations."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.framework.project import pipelines as project_pipelines
from kedro.pipeline import Pipeline

# The distilled-dataset job, in order: ingestion through dataset export.
DISTILL = ("ingestion", "dedup", "generation", "critique", "verify", "patterns", "dataset")


# Pipelines drawn inside another stage's box in `kedro viz`: the reasoning-pattern analysis reads the
# primary tables and feeds the dataset card (a reporting input), so as a box of its own next to the
# dataset stage its layers would form a cycle (reporting -> primary), and kedro viz drops them all.
STAGE_OF = {"patterns": "dataset.patterns"}


def as_stage(name: str, pipeline: Pipeline) -> Pipeline:
    """`pipeline` with every node in the namespace `name` (a modular pipeline, one box in `kedro viz`'s
    collapsed view). Nodes already under `name` (`evaluation.base`, `ingestion.taco`, ...) stay as
    they are. Only node names change: datasets and parameters keep theirs
    (`prefix_datasets_with_namespace=False`), so the catalog, the other stages and the hooks see
    the same names as before."""
    inside = [node for node in pipeline.nodes if f"{node.namespace or ''}.".startswith(f"{name}.")]
    outside = [node for node in pipeline.nodes if node not in inside]
    if not outside:
        return pipeline
    return Pipeline(inside) + Pipeline(
        outside, namespace=name, prefix_datasets_with_namespace=False
    )


def register_pipelines() -> dict[str, Pipeline]:
    # `kedro run --pipelines distill` makes Kedro's lazy loader look for a package named "distill";
    # composites need every member, so discovery always covers all pipelines.
    project_pipelines.set_requested(None)
    pipelines = {
        name: as_stage(STAGE_OF.get(name, name), pipeline)
        for name, pipeline in find_pipelines(raise_errors=True).items()
        if name != "__default__"  # find_pipelines' sum of everything; replaced below
    }
    # The whole chain, ingestion through evaluation. Ablation sweeps are runs of their own (one
    # parent MLflow run each): `kedro run --pipelines ablations --namespaces ablations.<sweep>`.
    whole_chain = sum(
        (pipeline for name, pipeline in pipelines.items() if name != "ablations"), Pipeline([])
    )
    pipelines["distill"] = sum(
        (pipelines[name] for name in DISTILL if name in pipelines), Pipeline([])
    )
    pipelines["__default__"] = whole_chain
    return pipelines

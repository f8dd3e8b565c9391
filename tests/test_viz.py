"""`kedro viz build` renders every registered pipeline, and its collapsed view reads as the recipe:
one box (modular pipeline) per stage with the datasets between them, one box per ablation variant."""

from __future__ import annotations

import json

from kedro.framework.project import configure_project

from ocr2_kedro.pipeline_registry import register_pipelines
from ocr2_kedro.pipelines.ablations.pipeline import SWEEPS
from tests.conftest import run_kedro

STAGES = (
    "ingestion",
    "dedup",
    "generation",
    "critique",
    "verify",
    "dataset",
    "training",
    "evaluation",
)
# Tables that connect one stage to the next: they sit between the boxes, not inside one.
BETWEEN_STAGES = {
    "problems",
    "benchmark_problems",
    "problems_dedup",
    "generations",
    "critiques",
    "verifications",
    "ocr2_export",
    "preference_pairs",
    "sft_stage1_checkpoint",
    "sft_stage2_checkpoint",
}


def _children(tree: dict, modular_pipeline: str, kind: str) -> set[str]:
    return {c["id"] for c in tree[modular_pipeline]["children"] if c["type"] == kind}


def test_viz_build_lists_every_registered_pipeline(project_copy):
    run_kedro(project_copy, "viz", "build", timeout=300)
    api = project_copy / "build" / "api"
    main = json.loads((api / "main").read_text())

    configure_project("ocr2_kedro")
    registered = set(register_pipelines())
    shown = {pipeline["id"] for pipeline in main["pipelines"]}
    assert registered <= shown, f"missing from kedro viz: {registered - shown}"
    assert {"distill", "__default__", "generation", "verify"} <= shown

    # The whole chain collapses to the recipe: the stages, and between them datasets and
    # parameters, no loose node.
    default = json.loads((api / "pipelines" / "__default__").read_text())
    tree = default["modular_pipelines"]
    assert _children(tree, "__root__", "modularPipeline") == set(STAGES)
    assert not _children(tree, "__root__", "task")
    names = {node["id"]: node["name"] for node in default["nodes"]}
    between = {names[i] for i in _children(tree, "__root__", "data")}
    assert between >= BETWEEN_STAGES, f"inside a stage: {BETWEEN_STAGES - between}"
    loose = [
        node["name"]
        for node in default["nodes"]
        if node["type"] == "task" and not node["modular_pipelines"]
    ]
    assert not loose, f"nodes outside every stage: {loose}"

    # Ablations: one box per sweep, inside it one box per variant.
    ablations = json.loads((api / "pipelines" / "ablations").read_text())["modular_pipelines"]
    assert _children(ablations, "__root__", "modularPipeline") == {"ablations"}
    assert _children(ablations, "ablations", "modularPipeline") == {
        f"ablations.{sweep}" for sweep in SWEEPS
    }
    for sweep, variants in SWEEPS.items():
        assert _children(ablations, f"ablations.{sweep}", "modularPipeline") == {
            f"ablations.{sweep}.{variant}" for variant in variants
        }

    # Layers from the catalog metadata reach the visualisation (kedro viz drops them all when the
    # layers form a cycle, counting the edges into and out of the collapsed boxes).
    assert {"raw", "intermediate", "primary"} <= set(main["layers"])

"""`kedro viz build` renders every registered pipeline, and its collapsed view reads as the recipe:
one box (modular pipeline) per stage with the datasets between them, each report drawn once, one
box per ablation variant."""

from __future__ import annotations

import json

from kedro.framework.project import configure_project

from ocr2_kedro.pipeline_registry import register_pipelines
from ocr2_kedro.pipelines.ablations.pipeline import sweeps
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
    "generation_rejects",
    "critiques",
    "verifications",
    "ocr2_export",
    "preference_pairs",
    "sft_stage1_checkpoint",
    "sft_stage2_checkpoint",
}
# Top-level nodes of the collapsed default pipeline (boxes and datasets; parameters are hidden by
# default): 65 when most MLflow reports had a second catalog entry (`<name>_mlflow`), 56 since, 47
# since each stage ends in a summary node that reads its reports (they are drawn inside its box),
# 49 with the HumanEval source (raw_humaneval) and the MLflow metrics of the evaluation's paired
# differences (a metrics dataset, like each model's, is drawn beside the box), 50 with the IOI source
# (raw_ioi; each model's IOI table is read by the evaluation summary, its metrics logged with the
# headline numbers).
MOST_TOP_LEVEL = 50


def _children(tree: dict, modular_pipeline: str, kind: str) -> set[str]:
    return {c["id"] for c in tree[modular_pipeline]["children"] if c["type"] == kind}


def test_viz_build_lists_every_registered_pipeline(project_copy):
    built = run_kedro(project_copy, "viz", "build", timeout=300)
    api = project_copy / "build" / "api"
    # `kedro viz build` exits 0 even when it could not build: fail with what it said.
    assert (api / "main").exists(), f"{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    main = json.loads((api / "main").read_text())

    configure_project("ocr2_kedro")
    registered_pipelines = register_pipelines()
    registered = set(registered_pipelines)
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
    # Each report is one dataset (the local file and its MLflow artifact are one catalog entry).
    copies = sorted(name for name in names.values() if name.endswith("_mlflow"))
    assert not copies, f"reports drawn twice: {copies}"
    top_level = [
        c for c in tree["__root__"]["children"] if c["type"] in ("modularPipeline", "data")
    ]
    assert len(top_level) <= MOST_TOP_LEVEL, sorted(names.get(c["id"], c["id"]) for c in top_level)

    # Each stage ends in one summary page, drawn beside its box; the reports the summary reads are
    # inside the box (only the tables between stages stay outside).
    top_names = {names.get(c["id"], c["id"]) for c in top_level}
    nodes = {node.name: node for node in registered_pipelines["__default__"].nodes}
    for stage in STAGES:
        summary = nodes[f"{stage}.write_{stage}_summary"]
        assert summary.outputs == [f"{stage}_summary"]
        assert f"{stage}_summary" in top_names
        outside = set(summary.inputs) & top_names
        assert outside <= BETWEEN_STAGES, f"{stage}: read by its summary, drawn outside: {outside}"

    # Ablations: one box per sweep, inside it one box per variant.
    ablation_view = json.loads((api / "pipelines" / "ablations").read_text())
    assert not [n["name"] for n in ablation_view["nodes"] if n["name"].endswith("_mlflow")]
    ablations = ablation_view["modular_pipelines"]
    assert _children(ablations, "__root__", "modularPipeline") == {"ablations"}
    assert _children(ablations, "ablations", "modularPipeline") == {
        f"ablations.{sweep}" for sweep in sweeps()
    }
    for sweep, variants in sweeps().items():
        assert _children(ablations, f"ablations.{sweep}", "modularPipeline") == {
            f"ablations.{sweep}.{variant}" for variant in variants
        }

    # Layers from the catalog metadata reach the visualisation (kedro viz drops them all when the
    # layers form a cycle, counting the edges into and out of the collapsed boxes).
    assert {"raw", "intermediate", "primary"} <= set(main["layers"])

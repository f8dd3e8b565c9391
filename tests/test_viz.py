"""`kedro viz build` renders every registered pipeline."""

from __future__ import annotations

import json

from kedro.framework.project import configure_project

from ocr2_kedro.pipeline_registry import register_pipelines
from tests.conftest import run_kedro


def test_viz_build_lists_every_registered_pipeline(project_copy):
    run_kedro(project_copy, "viz", "build", timeout=300)
    main = json.loads((project_copy / "build" / "api" / "main").read_text())

    configure_project("ocr2_kedro")
    registered = set(register_pipelines())
    shown = {pipeline["id"] for pipeline in main["pipelines"]}
    assert registered <= shown, f"missing from kedro viz: {registered - shown}"
    assert {"distill", "__default__", "generation", "verify"} <= shown
    # Layers from the catalog metadata reach the visualisation.
    assert {"raw", "intermediate", "primary"} <= set(main["layers"])

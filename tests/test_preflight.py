"""The start-up check: what a run's settings need from the machine and the network, checked before
the first node, every missing thing in one error. Real things on small inputs: local folders, an
OpenAI-compatible server on loopback, a port nobody listens on, PATH without g++."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.io import DataCatalog

from ocr2_kedro.execution.sandbox import which_or_none
from ocr2_kedro.hooks import ParametersHook
from ocr2_kedro.parameters import Requirement
from ocr2_kedro.pipelines.ablations import create_pipeline as ablations_pipeline
from ocr2_kedro.pipelines.evaluation import create_pipeline as evaluation_pipeline
from ocr2_kedro.preflight import PreflightError, check_requirements, check_run
from tests.support.openai_server import free_port
from tests.support.parameters import merged, raw_parameters
from tests.support.path import path_without


def run_catalog(parameters: dict) -> tuple[object, DataCatalog]:
    """A run's catalog for `parameters` (`params:a`, `params:a.b`, ...) after the project's
    ParametersHook has validated them and put the models in: what the start-up check sees."""
    catalog = DataCatalog()

    def add(name: str, value) -> None:
        catalog[f"params:{name}"] = value
        if isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}.{key}", item)

    for name, value in parameters.items():
        add(name, value)
    hook = ParametersHook()
    hook.after_catalog_created(catalog, {"parameters": parameters})
    return hook.settings, catalog


def test_each_kind_of_requirement_is_checked_the_cheap_way(tmp_path, embedded_model_dir):
    dead_port = free_port()
    found = check_requirements(
        [
            Requirement("model", str(embedded_model_dir), "a.model"),
            Requirement("model", str(tmp_path / "nowhere"), "b.model", hint="set b.model"),
            Requirement("tokenizer", str(tmp_path), "c.tokenizer"),
            Requirement("endpoint", f"http://127.0.0.1:{dead_port}/v1", "d.endpoints[0]"),
            Requirement("component", "json", "e.backend"),
            Requirement("component", "no_such_module_here", "f.backend"),
            Requirement("executable", "sh", "g.x"),
            Requirement("executable", "no-such-program-here", "h.x"),
            Requirement("gpus", 0, "i.gpus"),
        ]
    )
    text = "\n".join(found)
    assert {line.split(":")[0] for line in found} == {
        "b.model",
        "c.tokenizer",
        "d.endpoints[0]",
        "f.backend",
        "h.x",
    }, text
    assert "does not exist" in text and "set b.model" in text
    assert "c.tokenizer" in text and "tokenizer_config.json" in text
    assert f"127.0.0.1:{dead_port}" in text and "does not answer" in text
    assert "no_such_module_here" in text and "no-such-program-here" in text


def test_more_gpus_than_the_machine_has_and_an_offline_hub_are_reported(monkeypatch):
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    needed = torch.cuda.device_count() + 1
    found = check_requirements(
        [
            Requirement("gpus", needed, "generation.vllm.tensor_parallel_size"),
            Requirement("model", "some-org/not-cached-model", "training.student"),
            Requirement("hub_dataset", "some-org/some-data", "catalog entry raw_x", revision="abc"),
        ]
    )
    text = "\n".join(found)
    assert f"needs {needed} CUDA GPU(s)" in text
    assert "training.student" in text and "HF_HUB_OFFLINE" in text
    assert "raw_x" in text and "@ abc" in text


def test_a_live_endpoint_passes(monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Models(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.end_headers()
            self.wfile.write(b'{"data": []}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        assert check_requirements([Requirement("endpoint", url, "critique.openai")]) == []
    finally:
        server.shutdown()


@pytest.fixture
def no_gpp(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without("g++", tmp_path / "bin"))
    assert which_or_none("g++") is None  # the sandbox's own lookup finds no compiler
    assert which_or_none("python3") is not None  # everything else is still there


def _parameters(evaluation: dict | None = None, ablations: dict | None = None) -> dict:
    parameters = copy.deepcopy(raw_parameters("test"))
    parameters["evaluation"] = merged(parameters["evaluation"], evaluation)
    parameters["ablations"] = merged(parameters["ablations"], ablations)
    return parameters


def _base_model_evaluation():
    """The base model's evaluation and the node that resolves the untrained student it reads."""
    whole = evaluation_pipeline()
    return whole.only_nodes_with_namespaces(["evaluation.base"]) + whole.only_nodes(
        "evaluation.resolve_untrained_student"
    )


def test_evaluating_cpp_without_gpp_stops_before_the_first_node_naming_what_to_change(no_gpp):
    settings, catalog = run_catalog(_parameters({"languages": ["python", "cpp"]}))
    pipeline = _base_model_evaluation()
    with pytest.raises(PreflightError) as caught:
        check_run(settings, pipeline, catalog)
    assert "g++" in str(caught.value) and "evaluation" in str(caught.value)


def test_python_only_is_not_blocked_without_gpp(no_gpp):
    settings, catalog = run_catalog(_parameters({"languages": ["python"]}))
    pipeline = _base_model_evaluation()
    check_run(settings, pipeline, catalog)


def test_ablation_variants_are_checked_with_their_own_evaluation_languages(no_gpp):
    python_only = {"sweep_overrides": {"enabled": True, "evaluation": {"languages": ["python"]}}}
    pipeline = ablations_pipeline().only_nodes_with_namespaces(["ablations.data_size"])
    settings, catalog = run_catalog(_parameters({"languages": ["cpp"]}, python_only))
    check_run(settings, pipeline, catalog)  # the run's cpp is overridden for every variant
    cpp = {"sweeps": {"data_size": {"size_737k": {"evaluation": {"languages": ["cpp"]}}}}}
    settings, catalog = run_catalog(_parameters({"languages": ["python"]}, {**python_only, **cpp}))
    with pytest.raises(PreflightError, match=r"ablations\.data_size\.size_737k.*g\+\+"):
        check_run(settings, pipeline, catalog)


def test_the_paper_configuration_without_hub_or_gpu_stops_before_its_first_node(project_copy):
    """`kedro run --env paper --pipelines distill` on this machine (no GPU, no hub): one message
    listing everything missing, and no node has run."""
    kedro = Path(sys.executable).with_name("kedro")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [str(kedro), "run", "--env", "paper", "--pipelines", "distill"],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "this run cannot start" in output, output[-3000:]
    # The hub sources the paper run reads, each named by its catalog entry.
    assert "livecodebench" in output and "hub_dataset" in output, output[-3000:]
    assert "Running node" not in output and "Completed 1 out of" not in output, output[-3000:]


def test_only_what_the_run_reads_is_required():
    """A run that reads `training.system_prompt` (the dataset stage) needs none of the GPUs,
    components and student model the paper's training settings ask for; one that reads
    `training` needs them all."""
    from kedro.pipeline import Node, Pipeline

    def identity(value):
        return value

    settings, catalog = run_catalog(copy.deepcopy(raw_parameters("paper")))
    reads_prompt = Pipeline([Node(identity, "params:training.system_prompt", "prompt")])
    check_run(settings, reads_prompt, catalog)  # nothing missing
    trains = Pipeline([Node(identity, "params:training", "plan")])
    with pytest.raises(PreflightError, match=r"training\.distributed\.num_gpus"):
        check_run(settings, trains, catalog)

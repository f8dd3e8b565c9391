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


# ------------------------------------------------------------------ preference pairs for DPO


def _pairs_catalog(tmp_path: Path, *versions: int, min_pairs: int = 1, stages=None):
    """The test parameters (training.dpo.min_pairs, and the run's own training stages) and a run
    catalog whose `preference_pairs` is the versioned table on disk, one version per count."""
    from kedro.io.core import Version

    from ocr2_kedro.datasets import StreamingParquetDataset
    from tests.training.test_dpo import pairs_frame

    parameters = copy.deepcopy(raw_parameters("test"))
    parameters["training"] = merged(parameters["training"], {"dpo": {"min_pairs": min_pairs}})
    if stages is not None:
        parameters["training"]["stages"] = stages
    settings, catalog = run_catalog(parameters)
    for count in versions:
        # A fresh dataset object per save: each save is a new timestamped version.
        table = StreamingParquetDataset(
            filepath=str(tmp_path / "pairs.parquet"), version=Version(None, None)
        )
        table.save(pairs_frame(count) if count else pairs_frame(1).clear())
    catalog["preference_pairs"] = StreamingParquetDataset(
        filepath=str(tmp_path / "pairs.parquet"), version=Version(None, None)
    )
    return settings, catalog


def _preference_sweep():
    return ablations_pipeline().only_nodes_with_namespaces(["ablations.preference"])


def test_a_dpo_variant_with_too_few_pairs_on_disk_stops_at_start(tmp_path):
    """The preference sweep's sft_plus_dpo, before any node: the latest version's rows against
    training.dpo.min_pairs, the variant named, what to change; sft trains no DPO and is not named."""
    settings, catalog = _pairs_catalog(tmp_path, 5, 2, min_pairs=3)  # the latest holds 2
    with pytest.raises(PreflightError) as caught:
        check_run(settings, _preference_sweep(), catalog)
    (problem,) = caught.value.problems
    assert problem.startswith("ablations.preference.sft_plus_dpo (stages stage1, dpo)")
    assert (
        "min_pairs=3" in problem and "holds 2" in problem and "preference_pairs (version" in problem
    )
    assert "generation.samples_per_question" in problem and "critique_pairs" in problem
    assert "training.stages without dpo" in problem
    assert "ablations.preference.sft " not in problem

    # No version at all reads as none, with how to make them.
    settings, catalog = _pairs_catalog(tmp_path / "none", min_pairs=1)
    with pytest.raises(PreflightError, match=r"preference_pairs \(no version yet: .*\) holds 0"):
        check_run(settings, _preference_sweep(), catalog)


def test_enough_pairs_or_no_dpo_stage_passes(tmp_path):
    settings, catalog = _pairs_catalog(tmp_path, 3, min_pairs=3)
    check_run(settings, _preference_sweep(), catalog)
    # A sweep whose variants train no DPO reads the (empty) pairs table without needing it.
    settings, catalog = _pairs_catalog(tmp_path / "empty", 0, min_pairs=3)
    check_run(
        settings, ablations_pipeline().only_nodes_with_namespaces(["ablations.data_size"]), catalog
    )


def test_the_runs_own_dpo_stage_is_checked_unless_the_run_makes_the_pairs(tmp_path):
    from ocr2_kedro.pipelines.dataset import create_pipeline as dataset_pipeline
    from ocr2_kedro.pipelines.training import create_pipeline as training_pipeline

    settings, catalog = _pairs_catalog(tmp_path, 0, stages=["stage1", "stage2", "dpo"])
    with pytest.raises(PreflightError, match=r"- training \(stages stage1, stage2, dpo\).*holds 0"):
        check_run(settings, training_pipeline(), catalog)
    # Without dpo in the stages nothing is counted.
    settings, catalog = _pairs_catalog(tmp_path / "sft", 0, stages=["stage1", "stage2"])
    check_run(settings, training_pipeline(), catalog)
    # A run that makes the pairs itself (the whole chain) cannot count them yet: the training
    # template's check_preference_pairs node does, right after they are made.
    settings, catalog = _pairs_catalog(tmp_path / "chain", 0, stages=["stage1", "stage2", "dpo"])
    pairs_made = dataset_pipeline().only_nodes("build_preference_pairs")
    check_run(settings, training_pipeline() + pairs_made, catalog)


def test_the_preference_sweep_with_too_few_pairs_fails_before_any_node(project_copy):
    """`kedro run --pipelines ablations --namespaces ablations.preference` with an empty pairs
    table: the start-up error, and no node has run (no SFT stage trained before the DPO check)."""
    from tests.support.versions import save_versioned
    from tests.training.test_dpo import pairs_frame

    empty = pairs_frame(1).clear()
    save_versioned(project_copy / "data/05_model_input/preferences/pairs.parquet", empty)
    kedro = Path(sys.executable).with_name("kedro")
    args = ["run", "--env", "test", "--pipelines", "ablations", "--namespaces"]
    proc = subprocess.run(
        [str(kedro), *args, "ablations.preference"],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, output[-3000:]
    assert "this run cannot start" in output, output[-3000:]
    assert "ablations.preference.sft_plus_dpo" in output and "holds 0" in output, output[-3000:]
    assert "Running node" not in output, output[-3000:]

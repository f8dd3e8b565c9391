from __future__ import annotations

import sys

import pytest

from ocr2_kedro.training import (
    DistributedSettings,
    TrainerSettings,
    check_deepspeed_against_trainer,
    launcher_command,
    load_deepspeed_config,
    validate_deepspeed_config,
)
from ocr2_kedro.training.launcher import run_streaming
from tests.conftest import REPO

PAPER_CONFIGS = sorted((REPO / "conf" / "paper" / "deepspeed").glob("zero*.json"))


def test_paper_ships_zero2_and_zero3():
    assert [p.name for p in PAPER_CONFIGS] == ["zero2.json", "zero3.json"]


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: p.name)
def test_paper_deepspeed_configs_validate(path):
    config = validate_deepspeed_config(load_deepspeed_config(path), str(path))
    assert config["zero_optimization"]["stage"] in (2, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zero_optimization": {"stage": 1}}, "stage must be 2 or 3"),
        (
            {"zero_optimization": {"stage": 3, "stage3_prefetch_bucket": 5}},
            "invalid zero_optimization",
        ),
        ({"train_micro_batch_size_per_gpu": 0}, "positive integer"),
        ({"bf16": {"enabled": True}, "fp16": {"enabled": True}}, "cannot both"),
    ],
)
def test_bad_deepspeed_configs_are_rejected(change, message):
    config = {**load_deepspeed_config(PAPER_CONFIGS[1]), **change}
    with pytest.raises(ValueError, match=message):
        validate_deepspeed_config(config)


def test_explicit_batch_sizes_must_match_the_trainer():
    config = {"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": 4}
    with pytest.raises(ValueError, match="train_micro_batch_size_per_gpu=4"):
        check_deepspeed_against_trainer(config, TrainerSettings(per_device_train_batch_size=2))
    check_deepspeed_against_trainer(config, TrainerSettings(per_device_train_batch_size=4))


def test_trainer_settings_refuse_a_key_they_do_not_know():
    # Their values are checked by the training settings model (tests/parameters/test_training.py).
    with pytest.raises(ValueError, match="unknown trainer settings"):
        TrainerSettings.from_dict({"max_len": 10})
    assert TrainerSettings().merged({"max_steps": 3}).max_steps == 3


def test_launcher_commands(tmp_path):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("node1 slots=8\nnode2 slots=8\n")
    spec = tmp_path / "spec.json"
    deepspeed = launcher_command(
        DistributedSettings.from_dict(
            {"launcher": "deepspeed", "num_nodes": 2, "hostfile": str(hostfile), "num_gpus": 8}
        ),
        spec,
    )
    assert deepspeed[0].endswith("deepspeed")
    assert deepspeed[1:] == [
        "--hostfile", str(hostfile), "--num_nodes", "2", "--num_gpus", "8",
        "--master_port", "29500", "--module", "ocr2_kedro.training.worker", str(spec),
    ]  # fmt: skip
    torchrun = launcher_command(DistributedSettings(launcher="torchrun", num_gpus=2), spec)
    assert torchrun[1:] == [
        "--nnodes", "1", "--nproc_per_node", "2", "--master_port", "29500",
        "-m", "ocr2_kedro.training.worker", str(spec),
    ]  # fmt: skip
    # A multi-node deepspeed launch without a hostfile and an unknown launcher are refused by the
    # training settings model (tests/parameters/test_training.py); torchrun across nodes here.
    with pytest.raises(ValueError, match="torchrun is started once per node"):
        launcher_command(DistributedSettings(launcher="torchrun", num_nodes=2), spec)


def test_a_failing_launch_fails_with_its_output():
    command = [sys.executable, "-c", "print('rank 0 says hi'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match="status 3") as error:
        run_streaming(command, env={}, label="stage1")
    assert "rank 0 says hi" in str(error.value)

"""The launcher subprocess fails the node when a rank fails, through the real `deepspeed` launcher.

launcher.py builds the command line, starts it and raises on a non-zero exit. The training run
through each launcher (deepspeed with ZeRO-2, torchrun with ZeRO-3) is in test_deepspeed.py.
"""

from __future__ import annotations

import socket

import pytest

from ocr2_kedro.training import DistributedSettings, TrainerSettings, launch_stage
from ocr2_kedro.training import launcher as launcher_module
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_rank_fails_the_deepspeed_launch(tmp_path, monkeypatch):
    # The real launcher command and runner, with the worker module swapped for one whose rank 1
    # exits with status 3 while rank 0 waits for it in the process group.
    monkeypatch.setattr(launcher_module, "WORKER_MODULE", "tests.training.failing_rank")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.chdir(REPO)
    distributed = DistributedSettings(
        launcher="deepspeed",
        num_gpus=2,
        master_port=_free_port(),
        deepspeed_config=str(REPO / "conf" / "paper" / "deepspeed" / "zero2.json"),
    )
    with pytest.raises(RuntimeError, match="launcher exited with status 3") as error:
        launch_stage(
            "unused",
            [{"input_ids": [1, 2], "labels": [1, 2]}],
            tmp_path / "run",
            TrainerSettings(max_steps=1),
            distributed,
            "stage1",
        )
    assert "rank 1: exiting with status 3" in str(error.value)
    # Rank 0 was killed by the launcher while it waited, not left to finish or hang.
    assert "rank 0: every rank joined" not in str(error.value)
    assert not (tmp_path / "run" / "result.json").exists()

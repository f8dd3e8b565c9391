"""DeepSpeed ZeRO-2 and ZeRO-3 on CPU through gloo, two processes started by the launcher subprocess.

Each launcher runs for real once: `deepspeed` (what conf/paper uses) with ZeRO-2, `torchrun` with
ZeRO-3, so both launchers and both stages are covered by two runs instead of four. Both ranks
memory-map the same tokenized dataset folder. The first DeepSpeed use compiles a small op (about 80 s,
cached under ~/.cache/torch_extensions).
"""

from __future__ import annotations

import socket

import mlflow
import polars as pl
import pytest

from ocr2_kedro.tracking import MlflowRun
from ocr2_kedro.training import (
    DistributedSettings,
    TrainerSettings,
    build_examples,
    launch_stage,
    tokenize_to_disk,
)
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize(("zero", "launcher"), [("zero2", "deepspeed"), ("zero3", "torchrun")])
def test_two_process_deepspeed_on_cpu(tiny_model_dir, export_rows, tmp_path, zero, launcher):
    examples = pl.concat(list(build_examples(pl.DataFrame(export_rows)).stage1))
    tokenized = tokenize_to_disk(examples, tiny_model_dir, tmp_path / "tokenized", 128)
    settings = TrainerSettings(
        max_length=128, max_steps=4, per_device_train_batch_size=1, save_steps=2, learning_rate=1e-3
    )
    distributed = DistributedSettings(
        launcher=launcher,
        num_gpus=2,
        master_port=_free_port(),
        deepspeed_config=str(REPO / "conf" / "paper" / "deepspeed" / f"{zero}.json"),
    )
    # Rank 0 of the launched job logs into the run it is given (MLFLOW_RUN_ID, which the deepspeed
    # runner forwards to its ranks as it does every MLFLOW_* variable), not a run of its own.
    previous_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            result = launch_stage(
                str(tiny_model_dir),
                tokenized.path,
                tmp_path / "run",
                settings,
                distributed,
                "stage1",
                run=MlflowRun.active(),
            )
        client = mlflow.MlflowClient()
        assert [m.step for m in client.get_metric_history(run.info.run_id, "stage1.loss")] == [
            1,
            2,
            3,
            4,
        ]
        assert len(client.search_runs([run.info.experiment_id])) == 1
    finally:
        mlflow.set_tracking_uri(previous_uri)
    assert result.metrics["deepspeed"] == 1.0
    assert result.metrics["world_size"] == 2.0
    assert result.metrics["examples"] == tokenized.examples
    assert result.metrics["trained_tokens"] == tokenized.trained_tokens
    # The ranks read the folder in place: the spec names it, no copy of the rows is written.
    assert not (tmp_path / "run" / "train_data").exists()
    assert result.global_step == 4
    assert [h["step"] for h in result.history] == [1.0, 2.0, 3.0, 4.0]
    # DeepSpeed's own checkpoint layout (partitioned optimizer states) inside the trainer's.
    assert list((tmp_path / "run" / "checkpoint-2").glob("global_step2/*optim_states.pt"))
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()

"""Launch a training stage (SFT, or DPO after SFT): in this process, or through the `deepspeed` /
`torchrun` launcher as a subprocess.

The subprocess runs `python -m ocr2_kedro.training.worker SPEC` on every rank. SPEC is a JSON file
holding everything the stage needs (its kind, model path, the dataset folder or pairs file, trainer
and DPO settings, DeepSpeed config); rank 0 writes the result next to it. Every rank memory-maps the same dataset
folder (`datasets.load_from_disk`), so the data is on disk once and in the page cache once per node. The parent streams the launcher's output into its log
and fails on a non-zero exit: both launchers kill the other ranks when one exits non-zero and exit
with its status, so a failing rank fails the node instead of leaving the others waiting in a
collective. MLflow logging goes to the run the caller passes (`run`, never whatever run is active):
a launched rank 0 gets it through MLFLOW_RUN_ID / MLFLOW_TRACKING_URI (`MlflowRun.as_environment`;
the deepspeed runner forwards every MLFLOW_* variable, to other nodes too).

On a machine without GPUs the same commands run on CPU: the deepspeed runner picks DeepSpeed's CPU
accelerator by itself and `--num_gpus N` starts N processes, which train over gloo
(trainer.allow_cpu_deepspeed); tests/training/test_deepspeed.py and test_launcher.py run both
launchers so.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from ocr2_kedro.tracking import MlflowRun

from .config import DistributedSettings, DPOSettings, TrainerSettings, load_deepspeed_config
from .dpo import load_preference_dataset, train_dpo
from .trainer import TrainResult, load_train_dataset, train_sft

logger = logging.getLogger(__name__)

WORKER_MODULE = "ocr2_kedro.training.worker"


def _executable(name: str) -> str:
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"the `{name}` launcher is not installed in this environment")
    return found


def launcher_command(distributed: DistributedSettings, spec_path: Path) -> list[str]:
    """The launcher's argv for one stage."""
    if distributed.launcher == "deepspeed":
        command = [_executable("deepspeed")]
        if distributed.hostfile:
            command += [
                "--hostfile",
                distributed.hostfile,
                "--num_nodes",
                str(distributed.num_nodes),
            ]
        if distributed.num_gpus is not None:
            command += ["--num_gpus", str(distributed.num_gpus)]
        if distributed.master_addr:
            command += ["--master_addr", distributed.master_addr]
        command += ["--master_port", str(distributed.master_port), *distributed.extra_launcher_args]
        return [*command, "--module", WORKER_MODULE, str(spec_path)]
    if distributed.launcher == "torchrun":
        if distributed.num_nodes > 1:
            raise ValueError(
                "torchrun is started once per node by your scheduler; from a Kedro node use the "
                "deepspeed launcher with a hostfile for multi-node runs"
            )
        command = [
            _executable("torchrun"),
            "--nnodes",
            "1",
            "--nproc_per_node",
            str(distributed.num_gpus or "gpu"),
            "--master_port",
            str(distributed.master_port),
        ]
        if distributed.master_addr:
            command += ["--master_addr", distributed.master_addr]
        return [*command, *distributed.extra_launcher_args, "-m", WORKER_MODULE, str(spec_path)]
    raise ValueError(f"no launcher command for launcher {distributed.launcher!r}")


def run_streaming(
    command: list[str], env: dict[str, str], label: str, cwd: str | None = None
) -> None:
    """Run `command`, logging each output line as it comes; raise with the tail on a non-zero exit."""
    logger.info("%s: %s", label, " ".join(command))
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            logger.info("[%s] %s", label, line)
        returncode = process.wait()
    if returncode != 0:
        raise RuntimeError(
            f"{label}: launcher exited with status {returncode}; last output:\n" + "\n".join(tail)
        )


def dataset_folder(data: Any, output_dir: Path, kind: str = "sft") -> str:
    """What every rank reads: `data` itself when it is a path (a tokenized folder; for DPO also a
    pairs parquet file), else `data` (a Dataset or rows) saved under output_dir/train_data."""
    if isinstance(data, (str, os.PathLike)):
        return str(Path(data).resolve())
    folder = output_dir / "train_data"
    shutil.rmtree(folder, ignore_errors=True)
    loader = load_preference_dataset if kind == "dpo" else load_train_dataset
    loader(data).save_to_disk(str(folder))
    return str(folder.resolve())


def run_stage(spec: dict[str, Any], run: MlflowRun | None = None) -> TrainResult:
    """Train the stage a spec describes (its "kind": sft or dpo), in this process, logging to
    `run`: what `launch_stage` does for launcher `none` and what every launched rank does
    (worker.py)."""
    settings = TrainerSettings.from_dict(spec["settings"])
    common = {"stage": spec["stage"], "deepspeed_config": spec.get("deepspeed_config"), "run": run}
    if spec.get("kind", "sft") == "dpo":
        dpo = DPOSettings.from_dict(spec["dpo"])
        return train_dpo(
            spec["model_path"], spec["dataset_path"], spec["output_dir"], settings, dpo, **common
        )
    return train_sft(
        spec["model_path"], spec["dataset_path"], spec["output_dir"], settings, **common
    )


def launch_stage(
    model_path: str,
    data: Any,
    output_dir: str | Path,
    settings: TrainerSettings,
    distributed: DistributedSettings,
    stage: str,
    dpo: DPOSettings | None = None,
    run: MlflowRun | None = None,
) -> TrainResult:
    """Train one stage in this process (launcher `none`) or across processes / GPUs / nodes,
    logging its per-step metrics to `run` (none: not logged).

    An SFT stage by default; with `dpo`, a DPO stage starting from the SFT checkpoint at model_path.
    data: SFT: the tokenized dataset folder (`data.tokenize_to_disk(...).path`), a Dataset, or rows
    of input_ids and labels (see `trainer.load_train_dataset`). DPO: a pairs parquet file, a
    Dataset, or pair dicts (see `dpo.load_preference_dataset`).
    """
    output_dir = Path(output_dir)
    deepspeed_config = (
        load_deepspeed_config(distributed.deepspeed_config)
        if distributed.deepspeed_config
        else None
    )
    kind = "dpo" if dpo is not None else "sft"
    spec = {
        "kind": kind,
        "model_path": str(model_path),
        "output_dir": str(output_dir),
        "settings": settings.to_dict(),
        "dpo": dpo.to_dict() if dpo is not None else None,
        "deepspeed_config": deepspeed_config,
        "stage": stage,
    }
    if distributed.launcher == "none":
        return run_stage({**spec, "dataset_path": data}, run)

    output_dir.mkdir(parents=True, exist_ok=True)
    result_path = output_dir / "result.json"
    result_path.unlink(missing_ok=True)
    spec_path = output_dir / "spec.json"
    spec_path.write_text(
        json.dumps(
            {
                **spec,
                "output_dir": str(output_dir.resolve()),
                "dataset_path": dataset_folder(data, output_dir, kind),
                "result_path": str(result_path.resolve()),
            },
            indent=2,
        )
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The ranks log to `run` alone: never to a run id this process happens to have inherited.
    env.pop("MLFLOW_RUN_ID", None)
    if run is not None:
        env.update(run.as_environment())
    run_streaming(launcher_command(distributed, spec_path), env, label=stage, cwd=os.getcwd())
    if not result_path.exists():
        raise RuntimeError(
            f"{stage}: the launcher exited cleanly but rank 0 wrote no {result_path}"
        )
    return TrainResult(**json.loads(result_path.read_text()))

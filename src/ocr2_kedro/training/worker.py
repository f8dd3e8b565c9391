"""Entry point of one rank of a launched training stage (SFT or DPO):
`python -m ocr2_kedro.training.worker SPEC.json`.

Started by `deepspeed` or `torchrun` (see launcher.py), which set RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT; rank 0 writes the TrainResult as JSON to the spec's result_path and
logs to the MLflow run the launcher named in MLFLOW_RUN_ID / MLFLOW_TRACKING_URI (if any).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from ocr2_kedro.tracking import MlflowRun

from .launcher import run_stage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    # The deepspeed launcher appends --local_rank=N; the rank is also in LOCAL_RANK.
    parser.add_argument("--local_rank", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(args.spec.read_text())
    # Every rank memory-maps the same dataset folder (or pairs file and its Arrow cache).
    result = run_stage(spec, MlflowRun.from_environment())
    if int(os.environ.get("RANK", "0")) == 0:
        Path(spec["result_path"]).write_text(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()

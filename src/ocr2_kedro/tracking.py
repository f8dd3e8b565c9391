"""The MLflow run an engine logs to, passed in explicitly (never "whatever run is active").

Nodes are the ones who know which run that is: the project's MLflow hook makes the run of the
node's scope active before the node runs (the sweep's parent, or an ablation variant's child run),
and the node hands `MlflowRun.active()` to the engine. Engines log through `MlflowClient` to that
run id alone, so a run switched by anyone else meanwhile cannot receive their metrics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    tracking_uri: str

    @classmethod
    def active(cls) -> MlflowRun | None:
        """The run the hook made active for the node now running (None when MLflow is off)."""
        import mlflow

        run = mlflow.active_run()
        return cls(run.info.run_id, mlflow.get_tracking_uri()) if run is not None else None

    @classmethod
    def from_environment(cls) -> MlflowRun | None:
        """The run a launcher passed to its worker processes (`as_environment`)."""
        run_id = os.environ.get("MLFLOW_RUN_ID")
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        return cls(run_id, uri) if run_id and uri else None

    def as_environment(self) -> dict[str, str]:
        return {"MLFLOW_RUN_ID": self.run_id, "MLFLOW_TRACKING_URI": self.tracking_uri}

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)


def experiment_link(tracking_uri: str, experiment_name: str, host: str, port: int | str) -> str:
    """What to open in the MLflow UI: the experiment's runs table in the model-training view (MLflow
    3.17 opens an experiment in its GenAI view otherwise), or why there is nothing to open yet."""
    from mlflow import MlflowClient

    base = f"http://{host}:{port}"
    if tracking_uri.startswith("sqlite:///") and not os.path.exists(
        tracking_uri.removeprefix("sqlite:///")
    ):
        return f"{base} (no runs yet: {tracking_uri} does not exist; `make run` first)"
    experiment = MlflowClient(tracking_uri=tracking_uri).get_experiment_by_name(experiment_name)
    if experiment is None:
        return f"{base} (no experiment {experiment_name!r} in {tracking_uri} yet; `make run` first)"
    return (
        f"{base}/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning "
        f"(experiment {experiment_name!r}: its runs, parameters, metrics and Compare)"
    )

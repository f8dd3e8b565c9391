"""Print the MLflow UI link to the project's experiment (`make ui` prints it before the UI starts).

The tracking URI, experiment name, host and port come from the project's `mlflow.yml` of the
environment `kedro mlflow ui` reads (KEDRO_ENV, else `local` over `base`), merged as Kedro merges it.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path


def main(project: Path) -> str:
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project

    from ocr2_kedro.tracking import experiment_link

    bootstrap_project(project)
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / settings.CONF_SOURCE),
        env=os.environ.get("KEDRO_ENV"),
        **settings.CONFIG_LOADER_ARGS,
    )
    loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    mlflow = loader["mlflow"]
    uri = mlflow["server"]["mlflow_tracking_uri"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{project / uri.removeprefix('sqlite:///')}"  # relative to the project
    ui = mlflow.get("ui") or {}
    return experiment_link(
        uri,
        mlflow["tracking"]["experiment"]["name"],
        ui.get("host", "127.0.0.1"),
        ui.get("port", 5000),
    )


if __name__ == "__main__":
    # Kedro's and MLflow's start-up logging and deprecation notices would bury the one line.
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    print(f"MLflow UI: {main(Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve())}")

"""A report kept on disk, versioned, and logged to the MLflow run: one catalog entry for both.

    dataset_overview_plot:
      type: ocr2_kedro.datasets.MlflowReportDataset
      artifact_path: dataset
      versioned: true
      dataset:
        type: plotly.JSONDataset
        filepath: data/08_reporting/dataset_overview.json

Saving writes the wrapped dataset (with the catalog's version, like every versioned entry of the
run), then logs the file written to the MLflow run active for the node, under `artifact_path`. A
plotly figure is logged as self-contained HTML (`<file stem>.html`), which MLflow's artifact view
draws, while the local file keeps the wrapped format (plotly JSON: kedro viz previews it, and
`catalog.load` reads the figure back). Loading, `exists` and kedro viz's preview are the wrapped
dataset's.

kedro-mlflow's own `MlflowArtifactDataset` does not fit here: it builds the wrapped dataset with a
save version of its own, which Kedro 1.x's catalog refuses next to the run's
(VersionAlreadyExistsError), and it logs the file as saved, so a figure would reach MLflow as JSON
text. Its tracking switch still applies: kedro-mlflow turns `_logging_activated` off on every
dataset whose type starts with "Mlflow" when tracking is disabled for the pipeline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractVersionedDataset, Version
from kedro.io.core import parse_dataset_definition


class MlflowReportDataset(AbstractVersionedDataset[Any, Any]):
    def __init__(
        self,
        *,
        dataset: dict[str, Any],
        artifact_path: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        # The entry's `versioned: true` decides (Kedro hands it over as `version`), not the wrapped one's.
        dataset_class, arguments = parse_dataset_definition({**dataset, "versioned": False})
        self._local: AbstractVersionedDataset = dataset_class(**arguments, version=version)
        self._artifact_path = artifact_path
        self._logging_activated = True
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(self._local._filepath),
            version=version,
            exists_function=self._local._exists_function,
            glob_function=self._local._glob_function,
        )
        if hasattr(self._local, "preview"):
            # kedro viz previews by the method's return annotation: the wrapped dataset's own.
            self.preview = self._local.preview

    def load(self) -> Any:
        return self._local.load()

    def save(self, data: Any) -> None:
        # Imported here: `ocr2_kedro.datasets` is also imported by worker processes that log nothing.
        import mlflow
        import plotly.graph_objects as go

        written = Path(str(self._local._get_save_path()))  # before saving: a new version's path
        self._local.save(data)
        if not self._logging_activated:
            return
        if isinstance(data, go.Figure):
            with tempfile.TemporaryDirectory() as folder:
                page = Path(folder) / f"{written.stem}.html"
                data.write_html(page)
                mlflow.log_artifact(str(page), self._artifact_path)
        else:
            mlflow.log_artifact(str(written), self._artifact_path)

    def _exists(self) -> bool:
        return self._local.exists()

    def _describe(self) -> dict[str, Any]:
        return {**self._local._describe(), "artifact_path": self._artifact_path}

"""Project hooks.

`DatasetVersionsHook` records, on the active MLflow run that kedro-mlflow opened, which version of
each versioned dataset a run read and wrote, so two runs can be compared on the data they used.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset

logger = logging.getLogger(__name__)


class DatasetVersionsHook:
    def __init__(self) -> None:
        self._catalog = None
        self.read: dict[str, str] = {}
        self.written: dict[str, str] = {}

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog
        self.read, self.written = {}, {}

    def _dataset(self, name: str):
        if self._catalog is None:
            return None
        try:
            return self._catalog.get(name)
        except Exception:  # noqa: BLE001 - a dataset missing from the catalog has no version to record
            return None

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            version = dataset.resolve_load_version()
            if version:
                self.read[dataset_name] = version
                self._tag(f"data.read.{dataset_name}", version)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            version = dataset.resolve_save_version()
            if version:
                self.written[dataset_name] = version
                self._tag(f"data.written.{dataset_name}", version)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if mlflow.active_run() is not None and (self.read or self.written):
            mlflow.log_dict({"read": self.read, "written": self.written}, "dataset_versions.json")

    @staticmethod
    def _tag(key: str, value: str) -> None:
        if mlflow.active_run() is not None:
            mlflow.set_tag(key, value)

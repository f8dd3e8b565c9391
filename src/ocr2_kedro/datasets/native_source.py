"""A read-only Kedro dataset for a question source in its native schema.

    raw_taco:
      type: ocr2_kedro.datasets.NativeSourceDataset
      path: data/01_raw/taco              # parquet/JSONL files, a directory or a glob
    raw_taco_hub:
      type: ocr2_kedro.datasets.NativeSourceDataset
      hub_id: BAAI/TACO                   # read with datasets.load_dataset(..., streaming=True)
      revision: d593ed0a2becbbc952230bb89be09189bf1056dc   # the hub commit (pinned data)
      splits: [train, test]

Loading returns a lazy `RecordSource`: nothing is read until a node iterates it, so a disabled
source costs nothing and a large one streams in batches. `requirements()` says what a run reading
it needs from the network (a hub data set), for the start-up check (`ocr2_kedro.preflight`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from ocr2_kedro.parameters.base import Requirement
from ocr2_kedro.sources.readers import RecordSource


class NativeSourceDataset(AbstractDataset[None, RecordSource]):
    def __init__(
        self,
        path: str | None = None,
        hub_id: str | None = None,
        name: str | None = None,
        revision: str | None = None,
        data_files: str | Sequence[str] | Mapping | None = None,
        splits: Sequence[str] = ("train",),
        batch_size: int = 1024,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        try:
            self._source = RecordSource(
                path=path,
                hub_id=hub_id,
                name=name,
                revision=revision,
                data_files=data_files,
                splits=tuple(splits),
                batch_size=batch_size,
                load_args=dict(load_args or {}),
            )
        except ValueError as error:
            raise DatasetError(f"NativeSourceDataset: {error}") from error
        self.metadata = metadata

    def load(self) -> RecordSource:
        return self._source

    def requirements(self) -> list[Requirement]:
        """A hub source needs its data set (at its revision) reachable or in the local cache. The
        caller names the catalog entry: `path` is left for it to fill (`dataclasses.replace`)."""
        source = self._source
        if source.hub_id is None:
            return []
        download = f"hf download {source.hub_id} --repo-type dataset" + (
            f" --revision {source.revision}" if source.revision else ""
        )
        return [
            Requirement(
                kind="hub_dataset",
                value=source.hub_id,
                revision=source.revision,
                path="<filled by caller>",
                hint=f"download it where the hub is reachable (`{download} --local-dir "
                "data/01_raw/<source>`) and point the catalog entry at that folder (`path:` "
                "instead of `hub_id:`, as conf/base's raw_<source> entries do), or disable the "
                "source in parameters_ingestion.yml",
            )
        ]

    def save(self, data: None) -> None:
        raise DatasetError("NativeSourceDataset is read-only: it names a source, it stores nothing")

    def _describe(self) -> dict[str, Any]:
        return {
            "source": self._source.describe(),
            "revision": self._source.revision,
            "splits": self._source.splits,
        }

"""A versioned JSON report that is optional for its readers.

    reasoning_patterns_summary:
      type: ocr2_kedro.datasets.OptionalJSONDataset
      filepath: data/08_reporting/patterns/reasoning_patterns_summary.json
      versioned: true

Loads as None while no run has written it: the dataset card renders a section per report it is
given, so `kedro run --pipelines dataset` works before (or without) the pipeline that makes the
report. A report that exists but cannot be read is still an error.
"""

from __future__ import annotations

from typing import Any

from kedro_datasets.json import JSONDataset


class OptionalJSONDataset(JSONDataset):
    def load(self) -> Any:
        return super().load() if self.exists() else None

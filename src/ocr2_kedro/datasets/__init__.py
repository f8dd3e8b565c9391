"""Custom Kedro datasets of the project."""

from .hf_checkpoint import HFCheckpointDataset
from .mlflow_report import MlflowReportDataset
from .native_source import NativeSourceDataset
from .optional_json import OptionalJSONDataset
from .streaming_parquet import StreamingParquetDataset, write_batches

__all__ = [
    "HFCheckpointDataset",
    "MlflowReportDataset",
    "NativeSourceDataset",
    "OptionalJSONDataset",
    "StreamingParquetDataset",
    "write_batches",
]

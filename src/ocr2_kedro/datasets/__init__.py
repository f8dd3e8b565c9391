"""Custom Kedro datasets of the project."""

from .hf_checkpoint import HFCheckpointDataset
from .native_source import NativeSourceDataset
from .optional_json import OptionalJSONDataset
from .streaming_parquet import StreamingParquetDataset, write_batches

__all__ = [
    "HFCheckpointDataset",
    "NativeSourceDataset",
    "OptionalJSONDataset",
    "StreamingParquetDataset",
    "write_batches",
]

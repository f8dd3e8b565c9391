"""Custom Kedro datasets of the project."""

from .hf_checkpoint import HFCheckpointDataset
from .native_source import NativeSourceDataset

__all__ = ["HFCheckpointDataset", "NativeSourceDataset"]

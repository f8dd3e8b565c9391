"""Custom Kedro datasets of the project."""

from .hf_checkpoint import HFCheckpointDataset

__all__ = ["HFCheckpointDataset"]

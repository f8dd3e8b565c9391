"""Read and write Kedro-versioned files (`<path>/<version>/<name>`) in a test project."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from kedro.io.core import generate_timestamp


def latest_version(path: Path) -> str:
    versions = sorted(p.name for p in path.iterdir())
    assert versions, f"no version saved under {path}"
    return versions[-1]


def latest_path(path: Path) -> Path:
    return path / latest_version(path) / path.name


def read_latest(path: Path) -> pl.DataFrame:
    return pl.read_parquet(latest_path(path))


def save_versioned(path: Path, frame: pl.DataFrame) -> None:
    target = path / generate_timestamp() / path.name
    target.parent.mkdir(parents=True)
    frame.write_parquet(target)

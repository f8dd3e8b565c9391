"""Shared fixtures: the embedded model, a tiny model built from a config, a throwaway project copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "data" / "06_models" / "embedded" / "SmolLM2-135M-Instruct"

# Kedro's telemetry plugin must never ask or phone home from tests.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    if not (EMBEDDED / "config.json").exists():
        pytest.fail(f"embedded model missing at {EMBEDDED}: run `make model` (make test does it)")
    return EMBEDDED


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_model_dir) -> Path:
    """A 2-layer Llama with SmolLM2's tokenizer and chat template: real code paths, millisecond steps."""
    from ocr2_kedro.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), embedded_model_dir)


def copy_project(target: Path) -> Path:
    """A runnable copy of the project (conf, raw data, embedded model link) outside the repo."""
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(REPO / name, target / name)
    # Kedro requires the source dir inside the project root (a symlink out of it is refused).
    shutil.copytree(
        REPO / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copytree(REPO / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    shutil.copytree(REPO / "data" / "01_raw", target / "data" / "01_raw")
    for layer in (
        "02_intermediate",
        "03_primary",
        "04_feature",
        "05_model_input",
        "07_model_output",
        "08_reporting",
    ):
        (target / "data" / layer).mkdir(parents=True)
    (target / "data" / "06_models" / "embedded").mkdir(parents=True)
    (target / "data" / "06_models" / "embedded" / EMBEDDED.name).symlink_to(EMBEDDED)
    return target


@pytest.fixture
def project_copy(tmp_path) -> Path:
    return copy_project(tmp_path)


def run_kedro(project: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run the real `kedro` CLI of this venv inside `project`; fail with its output on error."""
    kedro = Path(sys.executable).with_name("kedro")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [str(kedro), *args], cwd=project, capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        pytest.fail(
            f"kedro {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def kedro_failure(project: Path, *args: str, timeout: int = 300) -> str:
    """Run the `kedro` CLI in `project`, expect it to fail, and return its output on one line
    (rich wraps long lines)."""
    kedro = Path(sys.executable).with_name("kedro")
    proc = subprocess.run(
        [str(kedro), *args], cwd=project, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode != 0, f"kedro {' '.join(args)} did not fail:\n{proc.stdout[-3000:]}"
    return " ".join((proc.stdout + proc.stderr).split())

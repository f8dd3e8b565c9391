"""The embedded model checkpoint and model-path resolution."""

from __future__ import annotations

import json

import pytest

from ocr2_kedro.models import (
    find_embedded_gguf,
    is_checkpoint_dir,
    prepare_embedded_model,
    resolve_model_path,
)


def test_embedded_checkpoint_is_a_complete_hf_directory(embedded_model_dir):
    assert is_checkpoint_dir(embedded_model_dir)
    config = json.loads((embedded_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["num_hidden_layers"] == 30  # SmolLM2-135M
    assert "im_start" in (embedded_model_dir / "chat_template.jinja").read_text()


def test_prepare_is_idempotent(embedded_model_dir):
    weights = embedded_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert prepare_embedded_model(embedded_model_dir) == embedded_model_dir
    assert weights.stat().st_mtime_ns == before  # nothing converted again


def test_gguf_ships_in_the_installed_package():
    assert find_embedded_gguf().name.endswith(".gguf")


def test_resolve_embedded_and_local_paths(embedded_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(embedded_model_dir.parents[3])  # the project root
    assert resolve_model_path("embedded") == str(embedded_model_dir.resolve())
    assert resolve_model_path(str(embedded_model_dir)) == str(embedded_model_dir.resolve())
    # A hub id is passed through for machines that reach a hub.
    assert resolve_model_path("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"


def test_missing_or_broken_model_dirs_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("OCR2_EMBEDDED_MODEL_DIR", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="make model"):
        resolve_model_path("embedded")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_model_path(str(tmp_path / "empty"))

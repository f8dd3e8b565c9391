from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kedro.io import DatasetError, Version

from ocr2_kedro.datasets import HFCheckpointDataset


def test_saves_a_checkpoint_directory_as_a_new_version_and_loads_its_path(tiny_model_dir, tmp_path):
    dataset = HFCheckpointDataset(
        filepath=str(tmp_path / "models" / "stage1"), version=Version(None, None)
    )
    assert not dataset.exists()
    trained = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, trained)
    (trained / "checkpoint-3").mkdir()  # trainer state is not part of the model: not copied
    dataset.save(str(trained))
    path = dataset.load()
    assert path.endswith("/stage1") and "/models/stage1/" in path
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in Path(path).iterdir()
    }
    assert not list((tmp_path / "models" / "stage1").glob("*/stage1/checkpoint-3"))
    assert dataset.exists()
    first_version = dataset.resolve_load_version()

    # A second save is a second version; loading picks the latest, a pinned version the old one.
    again = HFCheckpointDataset(
        filepath=str(tmp_path / "models" / "stage1"), version=Version(None, None)
    )
    again.save(str(tiny_model_dir))
    assert again.resolve_load_version() > first_version
    pinned = HFCheckpointDataset(
        filepath=str(tmp_path / "models" / "stage1"), version=Version(first_version, None)
    )
    assert pinned.load() == path


def test_saves_a_model_object_and_loads_it_as_a_model(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    dataset = HFCheckpointDataset(
        filepath=str(tmp_path / "m"), version=Version(None, None), load_args={"as": "model"}
    )
    dataset.save({"model": model, "tokenizer": tokenizer})
    loaded = dataset.load()
    assert loaded.config.num_hidden_layers == model.config.num_hidden_layers
    assert len(list((tmp_path / "m").glob("*/m/tokenizer.json"))) == 1


def test_rejects_what_is_not_a_checkpoint(tmp_path):
    dataset = HFCheckpointDataset(filepath=str(tmp_path / "m"), version=Version(None, None))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a Hugging Face checkpoint"):
        dataset.save(str(tmp_path / "empty"))
    with pytest.raises(DatasetError, match="save_pretrained"):
        dataset.save(42)
    assert not list((tmp_path / "m").glob("*/m"))  # nothing half-written became a version
    with pytest.raises(DatasetError, match="local filesystem"):
        HFCheckpointDataset(filepath="s3://bucket/m")


@pytest.mark.parametrize("load_args", [{"trust_remote_code": True}, {"weights_only": False}])
def test_loading_options_that_run_checkpoint_code_are_refused(tmp_path, load_args):
    with pytest.raises(DatasetError, match="would run code stored in the checkpoint"):
        HFCheckpointDataset(filepath=str(tmp_path / "ckpt"), load_args={"as": "model", **load_args})

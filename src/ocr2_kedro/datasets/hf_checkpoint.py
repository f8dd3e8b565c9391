"""A versioned Kedro dataset for Hugging Face checkpoint directories (config, weights, tokenizer).

    sft_stage1_checkpoint:
      type: ocr2_kedro.datasets.HFCheckpointDataset
      filepath: data/06_models/sft/stage1
      versioned: true

Saving takes a checkpoint directory path (what a trainer wrote) or a model with `save_pretrained`
(optionally a dict {"model": ..., "tokenizer": ...}) and stores it under
`filepath/<version>/<name>/`. Loading returns the directory path by default (checkpoints are
large: the consumer decides how to load them), or the model with `load_args: {as: model}`. A dataset
that no run has saved yet loads as None with `load_args: {missing_ok: true}`, so that a consumer that
may not need it (an evaluation told to score another model) can say what to do instead of failing in
the catalog.
The copy goes to a sibling `.partial` directory first and is renamed into place, so a killed save
never leaves a half checkpoint that looks like a version.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

REQUIRED_FILE = "config.json"


class HFCheckpointDataset(AbstractVersionedDataset[Any, Any]):
    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if "://" in filepath and not filepath.startswith("file://"):
            raise DatasetError(
                f"HFCheckpointDataset stores checkpoints on the local filesystem; got {filepath}"
            )
        super().__init__(
            filepath=PurePosixPath(Path(filepath.removeprefix("file://")).as_posix()),
            version=version,
        )
        self._load_args = dict(load_args or {})
        self._load_as = self._load_args.pop("as", "path")
        self._missing_ok = bool(self._load_args.pop("missing_ok", False))
        if self._load_as not in ("path", "model"):
            raise DatasetError(f"load_args.as must be 'path' or 'model', got {self._load_as!r}")
        # A checkpoint is data: loading it must not run its Python files (trust_remote_code) or
        # unpickle arbitrary objects from *.bin weights (weights_only=False).
        if self._load_args.get("trust_remote_code") or self._load_args.get("weights_only") is False:
            raise DatasetError(
                "HFCheckpointDataset refuses load_args trust_remote_code=true and "
                "weights_only=false: either would run code stored in the checkpoint"
            )
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version, "as": self._load_as}

    def load(self) -> Any:
        if self._missing_ok and not self._exists():
            return None
        path = Path(self._get_load_path())
        if not (path / REQUIRED_FILE).is_file():
            raise DatasetError(f"{path} is not a Hugging Face checkpoint (no {REQUIRED_FILE})")
        if self._load_as == "path":
            return str(path)
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(path, **self._load_args)

    def save(self, data: Any) -> None:
        target = Path(self._get_save_path())
        partial = target.with_name(target.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        partial.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str | Path):
            source = Path(data)
            if not (source / REQUIRED_FILE).is_file():
                raise DatasetError(
                    f"{source} is not a Hugging Face checkpoint (no {REQUIRED_FILE})"
                )
            # Trainer checkpoints (optimizer state, RNG) are not part of the model: keep only the model.
            shutil.copytree(
                source, partial, ignore=shutil.ignore_patterns("checkpoint-*", "optimizer.pt")
            )
        else:
            parts = data if isinstance(data, dict) else {"model": data}
            if "model" not in parts or not hasattr(parts["model"], "save_pretrained"):
                raise DatasetError(
                    "HFCheckpointDataset saves a checkpoint directory path, a model with "
                    f"save_pretrained, or a dict with one under 'model'; got {type(data).__name__}"
                )
            for part in parts.values():
                part.save_pretrained(partial)
        partial.rename(target)

    def _exists(self) -> bool:
        try:
            path = Path(self._get_load_path())
        except DatasetError:
            return False
        return (path / REQUIRED_FILE).is_file()

"""Settings of the `ablations` stage: the sweeps, their variants and what every variant shares.

A variant's `training` and `evaluation` blocks are overrides, merged by OmegaConf (the config
loader's own merge: nested mappings merge, everything else replaces) over the run's training and
evaluation settings, after the sweep-wide `sweep_overrides`. The merged settings are validated by
the training and evaluation models in the same pass as everything else
(`ocr2_kedro.parameters.project`), so an unknown or bad override is reported at run start under
`ablations.sweeps.<sweep>.<variant>.<section>...`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import NonNegativeInt, PositiveInt, PrivateAttr, model_validator

from ocr2_kedro.parameters.backends import model_requirement
from ocr2_kedro.parameters.base import Requirement, Settings

ExecutionFilter = Literal["all", "passing", "failing"]


class VariantData(Settings):
    """Which export rows a variant trains on (each key optional: absent = no filter)."""

    nominal_size: PositiveInt | None = None
    languages: list[Literal["python", "cpp"]] | None = None
    execution_filter: ExecutionFilter = "all"


class VariantSettings(Settings):
    """One variant: its name (its key under its sweep), data selection and overrides. The merged
    training and evaluation settings are attached when the whole project is validated."""

    name: str
    sweep: str
    data: VariantData = VariantData()
    training: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}

    _training_settings: Any = PrivateAttr(default=None)
    _evaluation_settings: Any = PrivateAttr(default=None)

    @property
    def namespace(self) -> str:
        return f"ablations.{self.sweep}.{self.name}"

    @property
    def training_settings(self):
        """The variant's TrainingSettings (run's, then sweep_overrides, then the variant's)."""
        if self._training_settings is None:
            raise RuntimeError(f"{self.namespace}: settings not resolved (validate the project)")
        return self._training_settings

    @property
    def evaluation_settings(self):
        """The variant's EvaluationSettings (run's, then sweep_overrides, then the variant's)."""
        if self._evaluation_settings is None:
            raise RuntimeError(f"{self.namespace}: settings not resolved (validate the project)")
        return self._evaluation_settings

    def resolved(self, training: Any, evaluation: Any) -> VariantSettings:
        copy = self.model_copy()
        copy._training_settings, copy._evaluation_settings = training, evaluation
        return copy


class SweepOverrides(Settings):
    enabled: bool
    training: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}


class AblationModel(Settings):
    """The model every variant evaluates: its final checkpoint (`path: null`) or a given one."""

    name: str
    path: str | None
    backend: Literal["vllm", "transformers", "openai"] | None


class AblationsSettings(Settings):
    seed: NonNegativeInt
    full_size: PositiveInt
    scale_to_available: bool
    model: AblationModel
    sweep_overrides: SweepOverrides
    sweeps: dict[str, dict[str, VariantSettings]]

    @model_validator(mode="before")
    @classmethod
    def _name_variants(cls, data: Any) -> Any:
        """A variant's name and sweep are its keys (YAML does not repeat them)."""
        if not isinstance(data, dict) or not isinstance(data.get("sweeps"), dict):
            return data
        sweeps = {}
        for sweep, variants in data["sweeps"].items():
            if not isinstance(variants, dict):
                sweeps[sweep] = variants
                continue
            sweeps[sweep] = {
                name: {**(body or {}), "name": name, "sweep": sweep}
                if isinstance(body, dict) or body is None
                else body
                for name, body in variants.items()
            }
        return {**data, "sweeps": sweeps}

    @model_validator(mode="after")
    def _unique_variant_names(self) -> AblationsSettings:
        seen: dict[str, str] = {}
        for sweep, variants in self.sweeps.items():
            for name in variants:
                if name in seen:
                    raise ValueError(
                        f"variant {name!r} is in sweeps {seen[name]!r} and {sweep!r}: a variant "
                        "name is its own training folder and MLflow run name, so it must be unique"
                    )
                seen[name] = sweep
        return self

    def requirements(self) -> list[Requirement]:
        if self.model.path is None or self.model.backend == "openai":
            return []
        return [model_requirement(self.model.path, "ablations.model.path")]

    def variants(self) -> list[VariantSettings]:
        return [variant for variants in self.sweeps.values() for variant in variants.values()]

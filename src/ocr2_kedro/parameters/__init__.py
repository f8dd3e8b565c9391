"""The project's settings: one typed model per stage (`ocr2_kedro.parameters.<stage>`), validated
once when a run starts; Kedro-free (pydantic and OmegaConf only). See `base.py` for the
conventions and `project.py` for how the stages and ablation variants are put together."""

from __future__ import annotations

from importlib import import_module

from ocr2_kedro.parameters.base import (
    ParametersError,
    Requirement,
    Settings,
    problems_of,
    validate_settings,
)

# stage (the top-level key of conf/<env>/parameters_<stage>.yml) -> its model's class name in
# ocr2_kedro.parameters.<stage>.
STAGES = {
    "ingestion": "IngestionSettings",
    "dedup": "DedupSettings",
    "generation": "GenerationSettings",
    "critique": "CritiqueSettings",
    "verify": "VerifySettings",
    "patterns": "PatternsSettings",
    "dataset": "DatasetSettings",
    "training": "TrainingSettings",
    "evaluation": "EvaluationSettings",
    "ablations": "AblationsSettings",
}


def stage_model(stage: str) -> type[Settings]:
    """The settings model of `stage`."""
    return getattr(import_module(f"ocr2_kedro.parameters.{stage}"), STAGES[stage])


__all__ = [
    "STAGES",
    "ParametersError",
    "Requirement",
    "Settings",
    "problems_of",
    "stage_model",
    "validate_settings",
]

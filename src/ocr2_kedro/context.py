"""The project's KedroContext."""

from __future__ import annotations

from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext


class ProjectContext(KedroContext):
    """Kedro's context with its own parameter validation off.

    Kedro 1.7 instantiates a node's pydantic-annotated parameters itself, per node input, with
    errors that name no parameter path. This project validates every stage in one pass instead
    (ocr2_kedro.parameters, run by ParametersHook): unknown keys and bad values by their full
    path, ablation variants merged and validated with the rest, one report. So the catalog gets
    the parameters as the config loader merged them, and the hook puts the models in."""

    def _get_validated_params(self) -> dict[str, Any]:
        try:
            return self.config_loader["parameters"]
        except MissingConfigException:
            return self._runtime_params or {}

"""Parameters that shape the pipelines themselves (which models are evaluated, which ablation
sweeps and variants exist), read when the pipelines are created.

Kedro's pipeline registry is called without the run's configuration, so the project's
ParametersHook hands this module the run's own config loader (`use_config_loader`, from
`after_context_created`, which Kedro calls before it first reads the pipelines): the structure
then follows `--env` and `--params` exactly as the run's parameters do. Without a run (kedro viz,
tests that build pipelines directly) it reads conf/base + conf/local. Only the structure is read
here (names of models, sweeps, variants); values are validated with everything else when the run
starts (ocr2_kedro.parameters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_config_loader: Any = None


def use_config_loader(config_loader: Any) -> None:
    """Read the pipelines' structure from `config_loader` (the running session's)."""
    global _config_loader
    _config_loader = config_loader


def read_parameters(stage: str) -> dict[str, Any]:
    """The raw parameters of `stage` (the top-level key of parameters_<stage>.yml)."""
    loader = _config_loader
    if loader is None:
        from kedro.config import OmegaConfigLoader
        from kedro.framework.project import settings

        loader = OmegaConfigLoader(
            conf_source=str(Path(settings.CONF_SOURCE).resolve()), **settings.CONFIG_LOADER_ARGS
        )
    return loader["parameters"].get(stage) or {}

"""Settings as a run gets them: conf/base (+ an environment) loaded by Kedro's own config loader
with the project's merge strategy, `overrides` merged over them with OmegaConf, then validated by the
stage's model. Tests build node settings with this instead of hand-written partial dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

from ocr2_kedro.parameters import stage_model, validate_settings
from ocr2_kedro.settings import CONFIG_LOADER_ARGS

REPO = Path(__file__).resolve().parents[2]


def raw_parameters(env: str = "base") -> dict[str, Any]:
    """Every stage's parameters as plain data, as `kedro run --env <env>` reads them."""
    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    loader = OmegaConfigLoader(conf_source=str(REPO / "conf"), env=env, **args)
    return loader["parameters"]


def merged(base: dict, overrides: dict | None) -> dict:
    if not overrides:
        return base
    return OmegaConf.to_container(OmegaConf.merge(base, overrides), resolve=True)


def stage_settings(stage: str, overrides: dict | None = None, env: str = "base"):
    """The validated settings model of `stage` (conf/<env> with `overrides` merged over it)."""
    raw = merged(raw_parameters(env)[stage], overrides)
    return validate_settings(stage_model(stage), raw, stage)

"""What every stage's settings model shares.

A stage's parameters (`conf/<env>/parameters_<stage>.yml`) are one `Settings` model, validated
once when a run starts (`ocr2_kedro.parameters.validate_parameters`, called by the project's
ParametersHook); nodes receive the validated model. Conventions:

- Defaults live in conf/base only: a field the YAML always sets has no default here, so a key
  missing from conf/base is an error, not a second, silent default.
- Unknown keys are refused (`extra="forbid"`) and every problem is reported by its full dotted
  path (`evaluation.self_critique.fallback: ...`).
- Models are frozen: a node that needs changed settings makes a copy (`model_copy(update=...)`).
- A model that needs something from the machine or the network (a model, a GPU, an endpoint)
  says so in `requirements()`; the start-up check (`ocr2_kedro.preflight`) tests them all at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import OmegaConf
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def requirements(self) -> list[Requirement]:
        """What these settings need from the machine or the network (none by default)."""
        return []

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain data (what MLflow logs, what a fingerprint hashes)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Requirement:
    """One thing a run needs before its first node: `kind` says how it is checked
    (ocr2_kedro.preflight.CHECKS), `value` what is needed, `path` the parameter or catalog entry
    that asks for it (named in the error), `hint` what to set instead."""

    kind: str  # "model" | "tokenizer" | "hub_dataset" | "endpoint" | "gpus" | "component" | "path" | "executable"
    value: Any
    path: str
    hint: str = ""
    revision: str | None = None
    # The setting whose use makes it needed, when that is not `path` (verify needs g++ because of
    # generation.languages): a run needs it only if its nodes read that setting.
    needed_by: str | None = None

    @property
    def scope(self) -> str:
        return self.needed_by or self.path


class ParametersError(ValueError):
    """Settings that cannot work, every problem on its own line with its full path."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(
            "invalid parameters (conf/<env>/parameters_*.yml or --params):\n"
            + "\n".join(f"  - {problem}" for problem in self.problems)
        )


def problems_of(error: ValidationError, prefix: str) -> list[str]:
    """`error`'s problems as "<full.path>: <message> (got <value>)" lines."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (not a setting of this stage; a typo?)"
        elif item["type"] == "missing":
            message = "missing (a required setting; conf/base has every default: compare with it)"
        elif "input" in item and not isinstance(item["input"], dict | list):
            message += f" (got {item['input']!r})"
        lines.append(f"{path}: {message}")
    return lines


def validate_settings(model: type[M], raw: Any, path: str) -> M:
    """`raw` as `model`, or a ParametersError naming every problem under `path`."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ParametersError(problems_of(error, path)) from None


def merge_overrides(base: Mapping, *overrides: Mapping | None) -> dict:
    """`base` with each of `overrides` merged over it the way the config loader merges
    environments (OmegaConf: mappings merge key by key, lists and values replace)."""
    merged = OmegaConf.merge(
        OmegaConf.create(dict(base)), *(OmegaConf.create(dict(o or {})) for o in overrides)
    )
    return OmegaConf.to_container(merged, resolve=True)

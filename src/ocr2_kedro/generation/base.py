"""The one interface every generation backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SamplingConfig:
    """Sampling settings shared by every backend (vLLM's names)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict | None) -> SamplingConfig:
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown sampling settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**values)


@dataclass(frozen=True)
class ChatRequest:
    """One conversation to complete. `seed` makes the sample reproducible where the backend allows."""

    request_id: str
    messages: tuple[dict, ...]
    seed: int | None = None


@dataclass(frozen=True)
class Completion:
    request_id: str
    text: str
    finish_reason: str  # "stop" | "length" | "error"
    num_output_tokens: int
    model: str
    error: str | None = field(default=None)


class GenerationBackend(Protocol):
    """Completes chat requests. Backends are context managers so GPU/engine memory is released."""

    model_name: str

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        """One completion per request, in the order of `requests`."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> GenerationBackend: ...

    def __exit__(self, *exc) -> None: ...


class BackendBase:
    """Context-manager plumbing shared by the backends."""

    model_name: str = ""

    def close(self) -> None:  # backends holding resources override this
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

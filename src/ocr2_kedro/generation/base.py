"""The one interface every generation backend implements."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_LOGPROBS = 20


@dataclass(frozen=True)
class SamplingConfig:
    """Sampling settings shared by every backend (vLLM's names)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    # Top log-probabilities per output token the backend is asked for (None: off). With k, each
    # completion carries its mean per-token entropy (`Completion.mean_token_entropy`): over the
    # renormalized top k from vLLM and OpenAI-compatible servers (`top_k_entropy`), exact over the
    # vocabulary from transformers. 1..20: the most those servers return by default.
    logprobs: int | None = None

    def __post_init__(self) -> None:
        if self.logprobs is not None and not 1 <= int(self.logprobs) <= MAX_LOGPROBS:
            raise ValueError(
                f"sampling.logprobs must be null or in 1..{MAX_LOGPROBS}, got {self.logprobs!r}"
            )

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
    # Mean over the output tokens of the entropy (nats) of the model's next-token distribution;
    # None unless `SamplingConfig.logprobs` was set (see `top_k_entropy` for what it measures).
    mean_token_entropy: float | None = field(default=None)


def top_k_entropy(logprobs: Iterable[float], k: int) -> float:
    """Entropy (nats) of one token position from the log-probabilities a backend returned for it:
    the `k` largest, renormalized to sum to one.

    vLLM and OpenAI-compatible servers return only the top k of the vocabulary, so this is the
    entropy of the distribution restricted to those k tokens: a lower bound of the full entropy when
    the top k hold nearly all the mass (usual at k = 5 for a confident model), and never above
    log(k). Comparisons between groups of traces at the same k are what it is for. vLLM's
    log-probabilities are the raw model distribution (temperature 1, before top-p) by default.
    """
    top = sorted((float(v) for v in logprobs if v is not None and v > -math.inf), reverse=True)[:k]
    if not top:
        raise ValueError("no finite log-probability to compute an entropy from")
    peak = top[0]
    weights = [math.exp(v - peak) for v in top]
    total = sum(weights)
    return -sum(w / total * (v - peak - math.log(total)) for w, v in zip(weights, top, strict=True))


def mean_entropy(per_token: Iterable[float]) -> float | None:
    """The mean of per-token entropies; None for a completion without tokens."""
    values = list(per_token)
    return sum(values) / len(values) if values else None


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

"""The engine's shared types: per-token entropies from log-probabilities, and the sampling
settings' log-probability option."""

from __future__ import annotations

import math

import pytest

from ocr2_kedro.generation.base import SamplingConfig, mean_entropy, top_k_entropy


def test_entropy_from_known_log_probabilities():
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2.
    assert top_k_entropy([math.log(0.5), math.log(0.25), math.log(0.25)], 5) == pytest.approx(
        1.5 * math.log(2)
    )
    # The top k only, renormalized: (0.4, 0.4) of (0.4, 0.4, 0.1) -> (1/2, 1/2): ln 2.
    assert top_k_entropy([math.log(0.1), math.log(0.4), math.log(0.4)], 2) == pytest.approx(
        math.log(2)
    )
    assert top_k_entropy([0.0], 5) == 0.0  # certain
    assert top_k_entropy([-math.inf, math.log(0.5), math.log(0.5)], 3) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="no finite"):
        top_k_entropy([], 3)
    assert mean_entropy([0.5, 1.0, 1.5]) == pytest.approx(1.0)
    assert mean_entropy([]) is None


def test_sampling_logprobs_are_off_by_default_and_bounded():
    from ocr2_kedro.schemas import run_key

    # Shards of runs from before the setting existed stay valid while it is off.
    sampling = {"temperature": 0.6, "max_tokens": 8}
    assert run_key("generation", "m", {**sampling, "logprobs": None}, None) == run_key(
        "generation", "m", sampling, None
    )
    assert run_key("generation", "m", {**sampling, "logprobs": 5}, None) != run_key(
        "generation", "m", sampling, None
    )
    assert SamplingConfig().logprobs is None
    assert SamplingConfig.from_dict({"logprobs": 5}).logprobs == 5
    with pytest.raises(ValueError, match="logprobs"):
        SamplingConfig(logprobs=0)

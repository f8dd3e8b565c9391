"""The one request builder: solution samples (generation's lazy expansion, evaluation's scoped
ids), critiques and pattern classifications. The pinned ids were made by the builders this module
replaced (generation and critique nodes, evaluation's `_requests`, metrics.patterns): shards
written before keep resuming."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.generation import SamplingConfig
from ocr2_kedro.generation.requests import (
    chat_request,
    critique_request,
    pattern_prompt_key,
    pattern_request,
    solution_prompts,
    solution_requests,
    solution_sample_id,
)
from ocr2_kedro.patterns.behaviours import BEHAVIOURS, definitions
from ocr2_kedro.schemas import PROBLEM, conform


def problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": "q-add",
                "source": "bundled",
                "source_id": "1",
                "question": "Read two integers and print their sum.",
                "test_type": "stdin",
                "tests": [{"input": "1 2\n", "output": "3\n"}],
            },
            {
                "question_id": "q-fn",
                "source": "leetcode",
                "source_id": "3",
                "question": "Return a + b.",
                "test_type": "functional",
                "fn_name": "add",
                "starter_code": "class Solution:\n    def add(self, a: int, b: int) -> int:\n",
                "tests": [{"input": "[1, 2]", "output": "3"}],
            },
        ],
        PROBLEM,
    )


def test_generation_samples_keep_their_ids():
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=8, seed=7)
    prompts = solution_prompts(
        problems(), ["python"], model="embedded", sampling=sampling, system_prompt="sys"
    )
    requests = solution_requests(prompts, samples=3, base_seed=7)
    assert isinstance(requests, pl.LazyFrame)  # streamed by its consumers
    rows = requests.collect()
    assert rows.columns == [
        "generation_id",
        "question_id",
        "language",
        "sample_idx",
        "seed",
        "prompt",
        "prompt_tokens",
        "request_fingerprint",
    ]
    assert rows["seed"].to_list() == [7, 8, 9, 7, 8, 9]
    assert rows.select("generation_id", "request_fingerprint").rows()[:2] == [
        ("4b4b952b518cd818", "99ba51414fb9da5ba34e13f4693ae34e"),
        ("16c3abb8ae235319", "61d4e648315eae9527e949df5b785ab5"),
    ]
    assert rows["prompt_tokens"].null_count() == 6  # no counter given


def test_evaluation_samples_keep_their_ids_problem_by_problem():
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=96, seed=2025)
    prompts = solution_prompts(
        problems(), ["python", "cpp"], model="/m/path", sampling=sampling, system_prompt=None
    )
    assert prompts.select("question_id", "language").rows() == [
        ("q-add", "python"),
        ("q-add", "cpp"),
        ("q-fn", "python"),
        ("q-fn", "cpp"),
    ]
    rows = solution_requests(
        prompts,
        samples=2,
        base_seed=2025,
        id_column="sample_id",
        id_scope=("evaluation", "/m/path"),
        temperature=0.6,
    ).collect()
    assert rows.select("sample_id", "request_fingerprint", "seed").rows()[:2] == [
        ("9a36282b2c5fc689", "f924315d6f68a60fedf640731e11094c", 2025),
        ("6970e8c1d74ef4f1", "bead8030b12d986a6795c58495e718df", 2026),
    ]
    last = rows.row(-1, named=True)
    assert last["sample_id"] == solution_sample_id(
        "q-fn",
        "cpp",
        1,
        last["request_fingerprint"],
        id_scope=("evaluation", "/m/path"),
        temperature=0.6,
    )


def test_critiques_keep_their_ids_and_carry_the_system_prompt():
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=96, seed=4321)
    built = critique_request(
        "g1",
        "Read two integers and print their sum.",
        "python",
        "print(1)",
        seed=4321,
        model="critic",
        sampling=sampling,
        system_prompt=None,
    )
    assert built.request.request_id == "5054448d295da42a"
    assert built.fingerprint == "b47169ca1d999f543dbf0b82b015e54b"
    assert built.request.seed == 4321 and built.prompt in built.request.messages[-1]["content"]
    strict = critique_request(
        "g1",
        "Read two integers and print their sum.",
        "python",
        "print(1)",
        seed=4321,
        model="critic",
        sampling=sampling,
        system_prompt="Be strict.",
    )
    assert strict.request.messages[0] == {"role": "system", "content": "Be strict."}
    assert strict.fingerprint != built.fingerprint


def test_pattern_requests_keep_their_ids():
    request, omitted = pattern_request(
        "g1", "a trace " * 50, definitions(BEHAVIOURS), max_chars=100, seed=0, system_prompt="s"
    )
    assert (request.request_id, omitted) == ("15139abc6bbb2b02", 300)
    assert request.messages[0] == {"role": "system", "content": "s"}
    assert pattern_prompt_key(definitions(BEHAVIOURS), 100) == "ff390c80024807a4"


def test_chat_request_is_one_user_turn_with_an_optional_system_prompt():
    assert chat_request("r", "hi", 3).messages == ({"role": "user", "content": "hi"},)
    assert chat_request("r", "hi", None, "sys").messages[0]["role"] == "system"

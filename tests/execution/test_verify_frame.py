"""Batch API: verify_frame over a polars frame, locally with workers and on a local Ray cluster."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.execution import VerifyPool, verify_frame
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform

SUM_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "20 22\n", "output": "42\n"}]


def _problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": "q_sum",
                "test_type": "stdin",
                "tests": SUM_TESTS,
                "time_limit_s": 1.0,
                "memory_limit_mb": 256,
            },
            {
                "question_id": "q_fn",
                "test_type": "functional",
                "fn_name": "double",
                "tests": [{"input": "[4]", "output": "8"}],
            },
            {"question_id": "q_empty", "test_type": "stdin", "tests": []},
            {
                "question_id": "q_badjson",
                "test_type": "functional",
                "fn_name": "f",
                "tests": [{"input": "[1,", "output": "1"}],
            },
        ],
        PROBLEM,
    )


def _generations() -> pl.DataFrame:
    rows = [
        ("g_py_ac", "q_sum", "python", "a, b = map(int, input().split())\nprint(a + b)"),
        ("g_py_wa", "q_sum", "python", "print(3)"),
        (
            "g_cpp_ac",
            "q_sum",
            "cpp",
            "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b;}",
        ),
        ("g_cpp_ce", "q_sum", "cpp", "int main( {"),
        (
            "g_fn_ac",
            "q_fn",
            "python",
            "class Solution:\n    def double(self, x):\n        return 2 * x",
        ),
        ("g_null", "q_sum", "python", None),
        ("g_no_tests", "q_empty", "python", "print(1)"),
        ("g_bad_json", "q_badjson", "python", "def f(x):\n    return x"),
        ("g_orphan", "q_missing", "python", "print(1)"),
    ]
    return conform(
        [
            {"generation_id": g, "question_id": q, "language": lang, "solution": s}
            for g, q, lang, s in rows
        ],
        GENERATION,
    )


EXPECTED = {
    "g_py_ac": "AC",
    "g_py_wa": "WA",
    "g_cpp_ac": "AC",
    "g_cpp_ce": "CE",
    "g_fn_ac": "AC",
    "g_null": "CE",
    "g_no_tests": "SE",
    "g_bad_json": "SE",
    "g_orphan": "SE",
}


def _check(result: pl.DataFrame, generations: pl.DataFrame) -> None:
    assert result.schema == VERIFICATION
    assert result["generation_id"].to_list() == generations["generation_id"].to_list()
    assert dict(zip(result["generation_id"], result["verdict"], strict=True)) == EXPECTED
    rows = {row["generation_id"]: row for row in result.to_dicts()}
    assert rows["g_py_wa"]["passed"] == 1 and rows["g_py_wa"]["pass_rate"] == 0.5
    assert [t["verdict"] for t in rows["g_py_wa"]["tests"]] == ["AC", "WA"]
    assert "bad problem" in rows["g_no_tests"]["error"]
    assert "not JSON" in rows["g_bad_json"]["error"]
    assert "q_missing" in rows["g_orphan"]["error"]
    assert rows["g_null"]["error"]
    assert rows["g_cpp_ce"]["error"]
    assert "rlimits" in rows["g_py_ac"]["isolation"]


def test_verify_frame_local_two_workers(cpp_cache_dir):
    generations = _generations()
    result = verify_frame(
        generations, _problems(), workers=2, cache_dir=str(cpp_cache_dir), progress=False
    )
    _check(result, generations)


def _halves(generations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    middle = generations.height // 2
    return generations.head(middle), generations.slice(middle)


def test_a_pool_keeps_its_sandboxes_across_frames(cpp_cache_dir):
    generations = _generations()
    first, second = _halves(generations)
    with VerifyPool(2, cache_dir=str(cpp_cache_dir), progress=False) as pool:
        parts = [pool.verify(first, _problems())]
        verifiers = list(pool._verifiers)
        parts.append(pool.verify(second, _problems()))
        # The second frame ran on the sandboxes the first one started.
        assert [id(v) for v in pool._verifiers] == [id(v) for v in verifiers]
        assert len(verifiers) == 2
    assert pool._verifiers == []
    _check(pl.concat(parts), generations)


def test_verify_frame_limits_and_modes(cpp_cache_dir):
    generations = (
        _generations()
        .filter(pl.col("generation_id") == "g_py_ac")
        .with_columns(
            solution=pl.lit(
                "import time\ntime.sleep(5)\na, b = map(int, input().split())\nprint(a + b)"
            )
        )
    )
    slow = verify_frame(
        generations,
        _problems(),
        workers=1,
        time_limit_s=0.5,
        max_tests=1,
        cache_dir=str(cpp_cache_dir),
        progress=False,
    )
    assert slow["verdict"].to_list() == ["TLE"]
    assert slow["total"].to_list() == [1]
    with pytest.raises(ValueError, match="backend"):
        verify_frame(generations, _problems(), backend="spark")
    with pytest.raises(ValueError, match="duplicate"):
        verify_frame(pl.concat([generations, generations]), _problems())
    assert verify_frame(generations.clear(), _problems()).schema == VERIFICATION


@pytest.mark.slow
def test_verify_frame_on_local_ray_cluster(cpp_cache_dir):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        generations = _generations()
        result = verify_frame(
            generations,
            _problems(),
            workers=2,
            backend="ray",
            ray_batch_size=3,
            cache_dir=str(cpp_cache_dir),
        )
        _check(result, generations)
        # Batch after batch on the same two actors (the verify pipeline's way).
        first, second = _halves(generations)
        with VerifyPool(
            2, backend="ray", ray_batch_size=3, cache_dir=str(cpp_cache_dir), progress=False
        ) as pool:
            parts = [pool.verify(first, _problems())]
            actors = [actor._actor_id for actor in pool._actors]
            parts.append(pool.verify(second, _problems()))
            assert [actor._actor_id for actor in pool._actors] == actors and len(actors) == 2
        _check(pl.concat(parts), generations)
    finally:
        ray.shutdown()

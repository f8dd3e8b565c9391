from kedro.pipeline import Node, Pipeline

from .nodes import normalize_bundled_problems, split_benchmark_pool


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                normalize_bundled_problems,
                inputs="raw_bundled_problems",
                outputs=["all_problems", "ingestion_rejects"],
                name="normalize_bundled_problems",
            ),
            Node(
                split_benchmark_pool,
                inputs="all_problems",
                outputs=["problems", "benchmark_problems"],
                name="split_benchmark_pool",
            ),
        ]
    )

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.summary import summary_node

from .nodes import find_benchmark_contamination, find_duplicate_clusters, select_deduplicated


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                find_duplicate_clusters,
                inputs=["problems", "params:dedup"],
                outputs="dedup_clusters",
                name="find_duplicate_clusters",
            ),
            Node(
                find_benchmark_contamination,
                inputs=["problems", "benchmark_problems", "params:dedup"],
                outputs="contamination",
                name="find_benchmark_contamination",
            ),
            Node(
                select_deduplicated,
                inputs=["problems", "dedup_clusters", "contamination"],
                outputs="problems_dedup",
                name="select_deduplicated",
            ),
            summary_node("dedup", ["dedup_clusters", "contamination", "problems_dedup"]),
        ]
    )

from kedro.pipeline import Node, Pipeline

from .nodes import drop_exact_duplicates


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                drop_exact_duplicates,
                inputs=["problems", "params:dedup.source_priority"],
                outputs="problems_dedup",
                name="drop_exact_duplicates",
            )
        ]
    )

from kedro.pipeline import Node, Pipeline

from .nodes import build_critique_requests, critique_solutions, summarize_critiques


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_critique_requests,
                inputs=["generations", "problems_dedup", "params:critique"],
                outputs="critique_requests",
                name="build_critique_requests",
            ),
            Node(
                critique_solutions,
                inputs=["critique_requests", "params:critique"],
                outputs="critiques",
                name="critique_solutions",
            ),
            Node(
                summarize_critiques,
                inputs="critiques",
                outputs="critique_metrics",
                name="summarize_critiques",
            ),
        ]
    )

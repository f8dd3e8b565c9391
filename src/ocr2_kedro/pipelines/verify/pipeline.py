from kedro.pipeline import Node, Pipeline

from .nodes import verify_generations


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                verify_generations,
                inputs=["generations", "problems_dedup", "params:verify"],
                outputs="verifications",
                name="verify_generations",
            )
        ]
    )

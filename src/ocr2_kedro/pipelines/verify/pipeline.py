from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.summary import summary_node

from .nodes import verdict_summary, verify_generations


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                verify_generations,
                inputs=["generations", "problems_dedup", "params:verify"],
                outputs="verifications",
                name="verify_generations",
            ),
            summary_node(
                "verify",
                ["verifications"],
                metrics={"verdicts": (verdict_summary, ["verifications"])},
            ),
        ]
    )

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.generation.pipeline import SHARDS
from ocr2_kedro.pipelines.summary import summary_node

from .nodes import collect_critiques, critique_solutions, summarize_critiques


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            # A driver of a job array runs this node alone (`--tags shards`): its critique shards.
            Node(
                critique_solutions,
                inputs=["generations", "problems_dedup", "params:critique"],
                outputs="critique_shards",
                name="critique_solutions",
                tags=[SHARDS],
            ),
            Node(
                collect_critiques,
                inputs=["generations", "problems_dedup", "critique_shards", "params:critique"],
                outputs="critiques",
                name="collect_critiques",
            ),
            Node(
                summarize_critiques,
                inputs="critiques",
                outputs="critique_metrics",
                name="summarize_critiques",
            ),
            summary_node(
                "critique",
                ["critiques"],
                metrics={"critique_metrics": (summarize_critiques, ["critiques"])},
            ),
        ]
    )

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.summary import summary_node
from ocr2_kedro.schemas import LANGUAGES

from .nodes import (
    build_generation_requests,
    collect_generation_rejects,
    collect_generations,
    combine_question_rejects,
    combine_requests,
    generate_solutions,
)

# The nodes a driver of a job array runs (`kedro run --pipelines generation --tags shards`): they
# build the requests and write this driver's shards; the table is built by a later run.
SHARDS = "shards"


def create_request_template() -> Pipeline:
    """Prompts for one language; namespaced once per language below."""
    return Pipeline(
        [
            Node(
                build_generation_requests,
                inputs=["problems_dedup", "params:language", "params:generation"],
                outputs=["requests", "question_rejects"],
                name="build_generation_requests",
                tags=[SHARDS],
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    per_language = [
        Pipeline(
            create_request_template(),
            namespace=f"generation.{language}",
            inputs={"problems_dedup"},
            outputs={
                "requests": f"{language}_generation_requests",
                "question_rejects": f"{language}_question_rejects",
            },
            parameters={"params:generation"},
        )
        for language in LANGUAGES
    ]
    return sum(per_language, Pipeline([])) + Pipeline(
        [
            Node(
                combine_requests,
                inputs=[
                    "params:generation.languages",
                    *[f"{lang}_generation_requests" for lang in LANGUAGES],
                ],
                outputs="generation_requests",
                name="combine_generation_requests",
                tags=[SHARDS],
            ),
            Node(
                combine_question_rejects,
                inputs=[f"{lang}_question_rejects" for lang in LANGUAGES],
                outputs="question_rejects",
                name="combine_question_rejects",
            ),
            Node(
                generate_solutions,
                inputs=["generation_requests", "params:generation"],
                outputs="generation_shards",
                name="generate_solutions",
                tags=[SHARDS],
            ),
            Node(
                collect_generations,
                inputs=["generation_requests", "generation_shards", "params:generation"],
                outputs="generations",
                name="collect_generations",
            ),
            Node(
                collect_generation_rejects,
                inputs=["generations", "question_rejects"],
                outputs="generation_rejects",
                name="collect_generation_rejects",
            ),
            summary_node("generation", ["generations", "question_rejects", "generation_rejects"]),
        ]
    )

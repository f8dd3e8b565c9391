from kedro.pipeline import Node, Pipeline

from ocr2_kedro.schemas import LANGUAGES

from .nodes import build_generation_requests, combine_requests, generate_solutions


def create_request_template() -> Pipeline:
    """Prompts for one language; namespaced once per language below."""
    return Pipeline(
        [
            Node(
                build_generation_requests,
                inputs=["problems_dedup", "params:language", "params:generation"],
                outputs="requests",
                name="build_generation_requests",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    per_language = [
        Pipeline(
            create_request_template(),
            namespace=f"generation.{language}",
            inputs={"problems_dedup"},
            outputs={"requests": f"{language}_generation_requests"},
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
            ),
            Node(
                generate_solutions,
                inputs=["generation_requests", "params:generation"],
                outputs="generations",
                name="generate_solutions",
            ),
        ]
    )

from kedro.pipeline import Node, Pipeline

from ocr2_kedro.parameters.ingestion import OCR2_REFERENCE_SOURCES, IngestionSettings
from ocr2_kedro.pipelines.summary import summary_node

from .nodes import (
    combine_problems,
    combine_rejects,
    normalize_source,
    resolve_ocr2_questions,
    split_benchmark_pool,
)

# Every source the project reads in its native schema (one `ingestion.<source>` block each, read
# from the catalog entry `raw_<source>`); which are read is a parameter
# (ingestion.<source>.source.enabled). `ocr2` rebuilds OCR/OCR-2 questions from the references.
SOURCES = IngestionSettings.source_names()
OCR2_REFERENCES = OCR2_REFERENCE_SOURCES


def create_source_template() -> Pipeline:
    """One source -> (problems, rejects); namespaced once per source below."""
    return Pipeline(
        [
            Node(
                normalize_source,
                inputs=["raw_records", "params:source"],
                outputs=["problems", "rejects"],
                name="normalize_source",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    per_source = [
        Pipeline(
            create_source_template(),
            namespace=f"ingestion.{source}",
            inputs={"raw_records": f"raw_{source}"},
            outputs={"problems": f"{source}_problems", "rejects": f"{source}_rejects"},
        )
        for source in SOURCES
    ]
    return sum(per_source, Pipeline([])) + Pipeline(
        [
            Node(
                resolve_ocr2_questions,
                inputs={
                    "ocr2": "raw_ocr2",
                    "params": "params:ingestion.ocr2",
                    **{source: f"raw_{source}" for source in OCR2_REFERENCES},
                },
                outputs=["ocr2_problems", "ocr2_rejects"],
                name="resolve_ocr2_questions",
            ),
            Node(
                combine_problems,
                # Keyword inputs: a question read twice is kept from the first path in this order
                # (direct sources before the OCR-2 rebuild) and the reject names that path.
                inputs={source: f"{source}_problems" for source in (*SOURCES, "ocr2")},
                outputs=["all_problems", "duplicate_question_rejects"],
                name="combine_problems",
            ),
            Node(
                split_benchmark_pool,
                inputs=["all_problems", "params:ingestion.benchmark_pools"],
                outputs=["problems", "benchmark_problems", "benchmark_window_rejects"],
                name="split_benchmark_pool",
            ),
            Node(
                combine_rejects,
                inputs=[
                    *[f"{source}_rejects" for source in (*SOURCES, "ocr2")],
                    "duplicate_question_rejects",
                    "benchmark_window_rejects",
                ],
                outputs="ingestion_rejects",
                name="combine_ingestion_rejects",
            ),
            summary_node("ingestion", ["problems", "benchmark_problems", "ingestion_rejects"]),
        ]
    )

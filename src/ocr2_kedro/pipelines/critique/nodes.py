"""Critique nodes: each candidate solution -> the critic reasons about it and ends with a binary
judgement (right/wrong). A critique that ends without one can be asked once more for it, in a second
turn (`judgement_follow_up`); what stays unparseable is kept with a null judgement and counted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext

import polars as pl

from ocr2_kedro.generation import ChatRequest, GenerationBackend, SamplingConfig, create_backend
from ocr2_kedro.generation.prompts import JUDGEMENT_FOLLOW_UP, critique_prompt
from ocr2_kedro.generation.resumable import generate_resumable, run_key
from ocr2_kedro.parsing import parse_judgement, parse_verdict_answer, split_reasoning
from ocr2_kedro.schemas import CRITIQUE, conform, stable_id

logger = logging.getLogger(__name__)

CRITIQUE_REQUEST_SCHEMA = pl.Schema(
    {
        "critique_id": pl.String,
        "generation_id": pl.String,
        "seed": pl.Int64,
        "prompt": pl.String,
    }
)


def build_critique_requests(
    generations: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """One critique request per generation that has code (nothing to judge otherwise)."""
    candidates = generations.filter(pl.col("solution").is_not_null())
    if params.get("only_unflagged", False):
        candidates = candidates.filter(pl.col("flags").list.len() == 0)
    skipped = generations.height - candidates.height
    if skipped:
        logger.info(
            "critique: %d generations without a candidate to judge are not critiqued", skipped
        )
    joined = candidates.join(
        problems.select("question_id", "question"), on="question_id", how="left"
    )
    missing = joined.filter(pl.col("question").is_null())
    if missing.height:
        raise ValueError(
            f"{missing.height} generations refer to questions absent from problems_dedup, "
            f"e.g. {missing['question_id'][0]}: rerun generation on the current problems"
        )
    seed = int(params["sampling"].get("seed", 0))
    rows = [
        {
            "critique_id": stable_id(row["generation_id"], params["model"]),
            "generation_id": row["generation_id"],
            "seed": seed,
            "prompt": critique_prompt(row["question"], row["language"], row["solution"]),
        }
        for row in joined.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=CRITIQUE_REQUEST_SCHEMA)


def _chat(row: dict, system_prompt: str | None) -> ChatRequest:
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    return ChatRequest(
        row["critique_id"], (*system, {"role": "user", "content": row["prompt"]}), row["seed"]
    )


def _follow_up(request: ChatRequest, critique: str) -> ChatRequest:
    messages = (
        *request.messages,
        {"role": "assistant", "content": critique},
        {"role": "user", "content": JUDGEMENT_FOLLOW_UP},
    )
    return ChatRequest(f"{request.request_id}-judgement", messages, request.seed)


def _opened_once(
    stack: ExitStack, factory: Callable[[], GenerationBackend]
) -> Callable[[], AbstractContextManager[GenerationBackend]]:
    """A backend factory for several generate_resumable calls: the engine starts at most once (on
    first use) and closes with `stack`."""
    opened: list[GenerationBackend] = []

    def backend() -> AbstractContextManager[GenerationBackend]:
        if not opened:
            opened.append(stack.enter_context(factory()))
        return nullcontext(opened[0])

    return backend


def critique_solutions(requests: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Run the critic (resumably) and parse each critique into reasoning and a judgement."""
    with ExitStack() as stack:
        return _critique(requests, params, _opened_once(stack, lambda: create_backend(params)))


def _critique(
    requests: pl.DataFrame,
    params: dict,
    backend: Callable[[], AbstractContextManager[GenerationBackend]],
) -> pl.DataFrame:
    sampling = SamplingConfig.from_dict(params["sampling"])
    system_prompt = params.get("system_prompt")
    chat = [_chat(row, system_prompt) for row in requests.iter_rows(named=True)]
    resume = params.get("resume") or {}
    shard_root = resume.get("shard_dir", "data/02_intermediate/critique_shards")
    chunk_size = int(resume.get("chunk_size", 64))
    key = run_key("critique", params["model"], params["sampling"], system_prompt)
    completions = generate_resumable(
        chat,
        sampling,
        backend,
        shard_dir=f"{shard_root}/{key}",
        chunk_size=chunk_size,
        description="critique",
    )
    judgements = [parse_judgement(completion.text) for completion in completions]
    sources = ["critique" if judgement else None for judgement in judgements]

    follow_up = params.get("judgement_follow_up") or {}
    missing = [i for i, judgement in enumerate(judgements) if judgement is None]
    if follow_up.get("enabled") and missing:
        # Greedy and short: the answer is one line.
        answer_sampling = SamplingConfig(
            temperature=0.0, top_p=1.0, max_tokens=int(follow_up.get("max_tokens", 16))
        )
        answers = generate_resumable(
            [_follow_up(chat[i], completions[i].text) for i in missing],
            answer_sampling,
            backend,
            shard_dir=f"{shard_root}/{key}-judgement",
            chunk_size=chunk_size,
            description="critique judgement",
        )
        for i, answer in zip(missing, answers, strict=True):
            judgements[i] = parse_verdict_answer(answer.text)
            sources[i] = "follow_up" if judgements[i] else None
        logger.info(
            "judgement follow-up: %d of %d critiques without a judgement got one",
            sum(source == "follow_up" for source in sources),
            len(missing),
        )

    rows = []
    for row, completion, judgement, source in zip(
        requests.iter_rows(named=True), completions, judgements, sources, strict=True
    ):
        reasoning, _answer, _finished = split_reasoning(completion.text)
        rows.append(
            {
                "generation_id": row["generation_id"],
                "critic_model": completion.model,
                "critique": completion.text,
                "critique_reasoning": reasoning,
                "judgement": judgement,
                "judgement_source": source,
            }
        )
    critiques = conform(rows, CRITIQUE) if rows else pl.DataFrame(schema=CRITIQUE)
    logger.info(
        "%d critiques, %d without a parseable judgement (kept with judgement = null)",
        critiques.height,
        critiques["judgement"].null_count(),
    )
    return critiques


def summarize_critiques(critiques: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Judgement distribution and parse rate, for MLflow."""
    total = critiques.height
    counts = {
        "critiques": float(total),
        "right": float((critiques["judgement"] == "right").sum()),
        "wrong": float((critiques["judgement"] == "wrong").sum()),
        "unparsed": float(critiques["judgement"].null_count()),
        "follow_up": float((critiques["judgement_source"] == "follow_up").sum()),
    }
    counts["parse_rate"] = (total - counts["unparsed"]) / total if total else 0.0
    return {name: {"value": value, "step": 0} for name, value in counts.items()}

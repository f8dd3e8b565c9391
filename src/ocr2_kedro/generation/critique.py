"""Critiques: a critic reads a question and one candidate solution, reasons, and ends with a binary
judgement (right/wrong). Used by the `critique` pipeline (labelling the dataset) and by evaluation
(the student judging its own samples), with the same prompt and the same parsing.

A critique that ends without a judgement can be asked once more for it, in a second turn; what stays
unparseable is returned with judgement None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass

from ocr2_kedro.generation.base import ChatRequest, Completion, GenerationBackend, SamplingConfig
from ocr2_kedro.generation.prompts import JUDGEMENT_FOLLOW_UP
from ocr2_kedro.generation.resumable import generate_resumable
from ocr2_kedro.parsing import parse_judgement, parse_verdict_answer, split_reasoning

BackendOpener = Callable[[], AbstractContextManager[GenerationBackend]]


@dataclass(frozen=True)
class Judged:
    """One parsed critique. `source`: "critique" (stated in it), "follow_up" (second turn) or None."""

    completion: Completion
    reasoning: str
    judgement: str | None
    source: str | None


def chat_request(
    request_id: str, prompt: str, seed: int | None, system_prompt: str | None = None
) -> ChatRequest:
    """A single-turn chat, with the run's system prompt when it has one."""
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    return ChatRequest(request_id, (*system, {"role": "user", "content": prompt}), seed)


def opened_once(stack: ExitStack, factory: Callable[[], GenerationBackend]) -> BackendOpener:
    """A backend factory for several `generate_resumable` calls: the engine starts at most once (on
    first use, so a fully resumed run starts none) and closes with `stack`."""
    opened: list[GenerationBackend] = []

    def backend() -> AbstractContextManager[GenerationBackend]:
        if not opened:
            opened.append(stack.enter_context(factory()))
        return nullcontext(opened[0])

    return backend


def _follow_up(request: ChatRequest, critique: str) -> ChatRequest:
    messages = (
        *request.messages,
        {"role": "assistant", "content": critique},
        {"role": "user", "content": JUDGEMENT_FOLLOW_UP},
    )
    return ChatRequest(f"{request.request_id}-judgement", messages, request.seed)


def run_critiques(
    requests: Sequence[ChatRequest],
    sampling: SamplingConfig,
    backend: BackendOpener,
    *,
    shard_dir: str,
    chunk_size: int = 64,
    follow_up_max_tokens: int | None = 16,
    description: str = "critique",
) -> list[Judged]:
    """Complete every critique resumably (shards under `shard_dir`), parse its judgement and, when
    `follow_up_max_tokens` is set, ask the ones without a judgement once more (greedy, short)."""
    completions = generate_resumable(
        requests,
        sampling,
        backend,
        shard_dir=shard_dir,
        chunk_size=chunk_size,
        description=description,
    )
    judgements = [parse_judgement(completion.text) for completion in completions]
    sources = ["critique" if judgement else None for judgement in judgements]
    missing = [i for i, judgement in enumerate(judgements) if judgement is None]
    if follow_up_max_tokens and missing:
        answers = generate_resumable(
            [_follow_up(requests[i], completions[i].text) for i in missing],
            SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=int(follow_up_max_tokens)),
            backend,
            shard_dir=f"{shard_dir}-judgement",
            chunk_size=chunk_size,
            description=f"{description} judgement",
        )
        for i, answer in zip(missing, answers, strict=True):
            judgements[i] = parse_verdict_answer(answer.text)
            sources[i] = "follow_up" if judgements[i] else None
    return [
        Judged(completion, split_reasoning(completion.text)[0], judgement, source)
        for completion, judgement, source in zip(completions, judgements, sources, strict=True)
    ]

"""Critiques: a critic reads a question and one candidate solution, reasons, and ends with a binary
judgement (right/wrong). Used by the `critique` pipeline (labelling the dataset) and by evaluation
(the student judging its own samples), with the same prompt and the same parsing.

A critique that ends without a judgement can be asked once more for it, in a second turn; what stays
unparseable is returned with judgement None.

Critiques are sharded like every generation job (`resumable`): chunk i of the critique requests is
done when its critiques are stored and, with the follow-up on, so are the follow-up answers of its
critiques that lack a judgement (kept in `<shard_dir>-judgement-<key of the follow-up question and
sampling>`, chunk for chunk). Callers build the requests with `requests.critique_request`, whose
ids are made from the fingerprint of the exact request, so a changed prompt is never answered from
an old shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass

from ocr2_kedro.generation.base import ChatRequest, Completion, GenerationBackend, SamplingConfig
from ocr2_kedro.generation.prompts import JUDGEMENT_FOLLOW_UP
from ocr2_kedro.generation.resumable import (
    ONE_DRIVER,
    Completions,
    Drivers,
    LazyBackend,
    ShardReport,
    ShardStore,
    chunked,
    read_completions,
    run_shards,
)
from ocr2_kedro.parsing import parse_judgement, parse_verdict_answer, split_reasoning
from ocr2_kedro.schemas import run_key

BackendOpener = Callable[[], AbstractContextManager[GenerationBackend]]


@dataclass(frozen=True)
class Judged:
    """One parsed critique. `source`: "critique" (stated in it), "follow_up" (second turn) or None."""

    completion: Completion
    reasoning: str
    judgement: str | None
    source: str | None


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


def _needs_follow_up(completion: Completion) -> bool:
    return completion.finish_reason != "error" and parse_judgement(completion.text) is None


def follow_up_sampling(max_tokens: int) -> SamplingConfig:
    """The second turn is greedy and short: it only asks for the judgement."""
    return SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=int(max_tokens))


def follow_up_store(shard_dir: str, max_tokens: int) -> ShardStore:
    """The follow-up answers to the critiques stored in `shard_dir`. A follow-up request is the
    critique request (fixed by the critique's id, made from its fingerprint), the critique, the
    follow-up question and its sampling: the last two key the directory, so a changed question or
    token limit asks again instead of reusing old answers."""
    key = run_key("follow-up", JUDGEMENT_FOLLOW_UP, asdict(follow_up_sampling(max_tokens)))
    return ShardStore(f"{shard_dir}-judgement-{key}")


@dataclass
class CritiqueWork:
    """One chunk of critiques: the critiques, then (when `follow_up` sampling is set) a second turn
    for each critique of the chunk that ends without a judgement."""

    critiques: Completions
    follow_ups: Completions | None

    @property
    def output_tokens(self) -> int:
        return self.critiques.output_tokens + (
            self.follow_ups.output_tokens if self.follow_ups else 0
        )

    def _follow_up_requests(
        self, requests: Sequence[ChatRequest], completions: Sequence[Completion]
    ) -> list[ChatRequest]:
        return [
            _follow_up(r, c.text)
            for r, c in zip(requests, completions, strict=True)
            if _needs_follow_up(c)
        ]

    def is_done(self, index: int, requests: Sequence[ChatRequest]) -> bool:
        ids = [r.request_id for r in requests]
        if not self.critiques.store.is_done(index, ids):
            return False
        if self.follow_ups is None:
            return True
        stored = self.critiques.store.read(index, ids)
        follow = [f"{i}-judgement" for i in ids if _needs_follow_up(stored[i])]
        return self.follow_ups.store.is_done(index, follow)

    def complete(self, index: int, requests: Sequence[ChatRequest]) -> tuple[int, int]:
        completions, sent, failed = self.critiques.store.complete(
            index, requests, self.critiques.generate
        )
        if self.follow_ups is not None:
            follow = self._follow_up_requests(requests, completions)
            if follow:
                _, more, more_failed = self.follow_ups.store.complete(
                    index, follow, self.follow_ups.generate
                )
                sent, failed = sent + more, failed + more_failed
        return sent, failed


def critique_work(
    sampling: SamplingConfig,
    backend: Callable[[], GenerationBackend],
    *,
    shard_dir: str,
    follow_up_max_tokens: int | None,
) -> CritiqueWork:
    follow_up = (
        Completions(
            follow_up_store(shard_dir, follow_up_max_tokens),
            follow_up_sampling(follow_up_max_tokens),
            backend,
        )
        if follow_up_max_tokens
        else None
    )
    return CritiqueWork(Completions(ShardStore(shard_dir), sampling, backend), follow_up)


def complete_critique_shards(
    chunks: Iterable[Sequence[ChatRequest]],
    sampling: SamplingConfig,
    backend: BackendOpener,
    *,
    shard_dir: str,
    chunk_size: int,
    follow_up_max_tokens: int | None = 16,
    drivers: Drivers = ONE_DRIVER,
    require_complete: bool = False,
    total_requests: int | None = None,
    description: str = "critique",
) -> ShardReport:
    """Complete this driver's chunks of critiques (and their follow-ups) that are not done."""
    with ExitStack() as stack:
        work = critique_work(
            sampling,
            LazyBackend(stack, backend),
            shard_dir=shard_dir,
            follow_up_max_tokens=follow_up_max_tokens,
        )
        return run_shards(
            chunks,
            work,
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            drivers=drivers,
            require_complete=require_complete,
            total_requests=total_requests,
            description=description,
        )


def read_judged(
    critiques: ShardStore, follow_ups: ShardStore | None, index: int, ids: Sequence[str]
) -> list[Judged]:
    """Chunk `index`'s critiques in request order, parsed, with the follow-up answers applied."""
    completions = read_completions(critiques, index, ids)
    judgements = [parse_judgement(c.text) for c in completions]
    sources = ["critique" if judgement else None for judgement in judgements]
    asked = [i for i, c in enumerate(completions) if _needs_follow_up(c)]
    if follow_ups is not None and asked:
        answers = read_completions(follow_ups, index, [f"{ids[i]}-judgement" for i in asked])
        for i, answer in zip(asked, answers, strict=True):
            judgements[i] = parse_verdict_answer(answer.text)
            sources[i] = "follow_up" if judgements[i] else None
    return [
        Judged(completion, split_reasoning(completion.text)[0], judgement, source)
        for completion, judgement, source in zip(completions, judgements, sources, strict=True)
    ]


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
    `follow_up_max_tokens` is set, ask the ones without a judgement once more (greedy, short).
    A single driver, the result in memory (evaluation); the critique pipeline goes chunk by chunk."""
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique for resumable generation")
    complete_critique_shards(
        chunked(requests, chunk_size),
        sampling,
        backend,
        shard_dir=shard_dir,
        chunk_size=chunk_size,
        follow_up_max_tokens=follow_up_max_tokens,
        total_requests=len(requests),
        description=description,
    )
    critiques = ShardStore(shard_dir)
    follow_ups = follow_up_store(shard_dir, follow_up_max_tokens) if follow_up_max_tokens else None
    return [
        judged
        for index, chunk in enumerate(chunked(ids, chunk_size))
        for judged in read_judged(critiques, follow_ups, index, chunk)
    ]

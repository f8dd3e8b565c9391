"""OpenAI-compatible HTTP backend: a fleet of `vllm serve` endpoints (or any compatible server).

Requests are spread round-robin over the endpoints with a global concurrency limit; each request is
retried with exponential backoff on connection errors, timeouts, 429 and 5xx, then reported as an
error completion (finish_reason "error") rather than failing the whole batch.

A server that parses the reasoning out of the answer (`vllm serve --reasoning-parser ...`) returns it
in a field of its own (`reasoning_content`, or `reasoning` in newer vLLM); it is put back in front of
the answer as the `<think>` part, so the completion text is what the model wrote and the parsing
splits it as it splits any other backend's.

The API key is read from the environment (`api_key_env`, OPENAI_API_KEY by default), never from
parameters, which are logged to MLflow; without it the requests carry "EMPTY", as `vllm serve`
without `--api-key` expects.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections.abc import Mapping, Sequence

from tqdm.auto import tqdm

from ocr2_kedro.generation.base import (
    BackendBase,
    ChatRequest,
    Completion,
    SamplingConfig,
    mean_entropy,
    top_k_entropy,
)
from ocr2_kedro.parsing import CLOSE_THINK, OPEN_THINK

logger = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
# What `vllm serve` without --api-key accepts (any key does); sent when the variable is unset.
NO_API_KEY = "EMPTY"
# Where OpenAI-compatible servers put the reasoning a reasoning parser split off the answer:
# vLLM's `reasoning_content` (and the newer `reasoning`), in that order.
REASONING_FIELDS = ("reasoning_content", "reasoning")


class LiteralApiKeyError(ValueError):
    """A literal API key in the settings: parameters are logged to MLflow, so keys come from the
    environment only."""


def refuse_literal_api_keys(settings: object, prefix: str = "") -> None:
    """Raise LiteralApiKeyError naming every `api_key` setting (at any depth, whatever its value).

    Parameters are logged to MLflow (kedro-mlflow logs every parameter a node reads, and the
    `--params` of a run as a tag), so a key in them would end up in the tracking store."""
    found = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                # `--params` keys may arrive dotted ("generation.openai.api_key").
                if str(key).rpartition(".")[2] == "api_key":
                    found.append(where)
                else:
                    walk(item, where)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(settings, prefix)
    if found:
        parent = found[0].rpartition(".")[0]
        raise LiteralApiKeyError(
            f"{', '.join(found)}: an API key may not be given as a parameter (parameters are "
            "logged to MLflow). Remove it and export the key in an environment variable instead: "
            f"OPENAI_API_KEY, or the variable that {parent + '.' if parent else ''}api_key_env "
            "names."
        )


def api_key_from_environment(variable: str | None) -> str:
    """The key in `variable` (None: no variable), or "EMPTY" when it is unset or empty."""
    return (os.environ.get(variable) if variable else None) or NO_API_KEY


def reasoning_of(message) -> str | None:
    """The reasoning a server returned beside the answer (`reasoning_content` / `reasoning`)."""
    for name in REASONING_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def completion_text(message, finish_reason: str | None) -> str:
    """The model's whole output: the answer, with a reasoning field put back as its `<think>` part.

    A sample cut by the length limit before its reasoning ended has no answer: its `<think>` is
    left open, as the model left it, so the parsing flags it as cut inside its reasoning."""
    content = message.content or ""
    reasoning = reasoning_of(message)
    if reasoning is None:
        return content
    if not content and finish_reason == "length":
        return f"{OPEN_THINK}\n{reasoning}"
    return f"{OPEN_THINK}\n{reasoning}\n{CLOSE_THINK}\n\n{content}"


def _mean_token_entropy(choice, k: int | None) -> float | None:
    """Mean top-k entropy over the output tokens of one choice (`logprobs.content[i].top_logprobs`);
    None when not asked for, or when the server returned none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not k or not content:
        return None
    return mean_entropy(
        top_k_entropy((top.logprob for top in token.top_logprobs), k)
        for token in content
        if token.top_logprobs
    )


class OpenAIBackend(BackendBase):
    def __init__(
        self,
        model: str,
        *,
        endpoints: Sequence[str],
        api_key_env: str | None = DEFAULT_API_KEY_ENV,
        max_concurrency: int = 64,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
    ) -> None:
        if not endpoints:
            raise ValueError(
                "the openai backend needs at least one endpoint URL (e.g. http://host:8000/v1)"
            )
        self.model_name = model
        self.endpoints = list(endpoints)
        # The variable's name only: the key is read when requests are sent, never kept in settings.
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        if not requests:
            return []
        return asyncio.run(self._generate_all(requests, sampling))

    async def _generate_all(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        from openai import AsyncOpenAI

        # Clients belong to one event loop, so each call makes its own. Retries are ours (they rotate
        # endpoints), so the client's own are off.
        api_key = api_key_from_environment(self.api_key_env)
        if api_key == NO_API_KEY and self.api_key_env:
            logger.info(
                "%s is not set: requests to %s carry no API key (as `vllm serve` without "
                "--api-key expects)",
                self.api_key_env,
                ", ".join(self.endpoints),
            )
        clients = [
            AsyncOpenAI(base_url=url, api_key=api_key, timeout=self.timeout_s, max_retries=0)
            for url in self.endpoints
        ]
        semaphore = asyncio.Semaphore(self.max_concurrency)
        first_clients = itertools.cycle(range(len(clients)))
        progress = tqdm(total=len(requests), desc=f"generate ({self.model_name})", unit="req")
        started = time.perf_counter()
        tokens = 0

        async def one(request: ChatRequest, first_client: int) -> Completion:
            nonlocal tokens
            async with semaphore:
                completion = await self._with_retries(clients, request, sampling, first_client)
            tokens += completion.num_output_tokens
            progress.update(1)
            progress.set_postfix(tok_s=f"{tokens / max(time.perf_counter() - started, 1e-9):.0f}")
            return completion

        try:
            return list(await asyncio.gather(*(one(r, next(first_clients)) for r in requests)))
        finally:
            progress.close()
            for client in clients:
                await client.close()

    async def _with_retries(
        self, clients: list, request: ChatRequest, sampling: SamplingConfig, first_client: int
    ) -> Completion:
        import openai

        last_error = ""
        # Asked only when wanted: some compatible servers refuse the fields.
        logprobs = (
            {"logprobs": True, "top_logprobs": sampling.logprobs} if sampling.logprobs else {}
        )
        for attempt in range(self.max_retries + 1):
            client = clients[(first_client + attempt) % len(clients)]
            try:
                response = await client.chat.completions.create(
                    model=self.model_name,
                    messages=list(request.messages),
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_tokens=sampling.max_tokens,
                    seed=request.seed if request.seed is not None else sampling.seed,
                    **logprobs,
                )
            except (
                openai.APIConnectionError,
                openai.APITimeoutError,
                openai.RateLimitError,
                openai.InternalServerError,
            ) as error:
                last_error = f"{type(error).__name__}: {error}"
                delay = self.backoff_s * (2**attempt) * (1 + random.random() / 2)
                logger.warning(
                    "request %s failed (%s); retry %d in %.1fs",
                    request.request_id,
                    last_error,
                    attempt + 1,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            except openai.APIStatusError as error:  # 4xx other than 429: retrying will not help
                last_error = f"{type(error).__name__}: {error}"
                break
            choice = response.choices[0]
            usage = response.usage
            return Completion(
                request_id=request.request_id,
                text=completion_text(choice.message, choice.finish_reason),
                finish_reason=choice.finish_reason or "stop",
                num_output_tokens=usage.completion_tokens if usage else 0,
                model=self.model_name,
                mean_token_entropy=_mean_token_entropy(choice, sampling.logprobs),
            )
        return Completion(request.request_id, "", "error", 0, self.model_name, error=last_error)

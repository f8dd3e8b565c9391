"""OpenAI-compatible HTTP backend: a fleet of `vllm serve` endpoints (or any compatible server).

Requests are spread round-robin over the endpoints with a global concurrency limit; each request is
retried with exponential backoff on connection errors, timeouts, 429 and 5xx, then reported as an
error completion (finish_reason "error") rather than failing the whole batch.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from ocr2_kedro.generation.base import (
    BackendBase,
    ChatRequest,
    Completion,
    SamplingConfig,
    mean_entropy,
    top_k_entropy,
)

logger = logging.getLogger(__name__)


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
        api_key: str = "EMPTY",
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
        self.api_key = api_key
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
        clients = [
            AsyncOpenAI(base_url=url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0)
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
                text=choice.message.content or "",
                finish_reason=choice.finish_reason or "stop",
                num_output_tokens=usage.completion_tokens if usage else 0,
                model=self.model_name,
                mean_token_entropy=_mean_token_entropy(choice, sampling.logprobs),
            )
        return Completion(request.request_id, "", "error", 0, self.model_name, error=last_error)

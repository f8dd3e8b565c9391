"""A real OpenAI-compatible HTTP server on loopback for tests.

It serves `/v1/chat/completions` from any project generation backend (a tiny transformers model in
tests), counts requests, and can inject faults: the first `fail_first` requests answer 503, and
`slow_s` delays every answer. With `top_logprobs` (per output position, the log-probabilities of the
top tokens), a request that asks for log-probabilities gets those, cut to its `top_logprobs`. With
`reasoning_field` it answers as `vllm serve --reasoning-parser deepseek_r1` does: the `<think>` part
of the model's output goes into that field of the message (`reasoning_content`, or `reasoning` in
newer vLLM) and only the rest into `content` (None when the reasoning never ended). The
Authorization header of every request is recorded (`authorizations`). With `max_prompt_chars`, a
request whose last message is longer is refused as `vllm serve` refuses a prompt over its context
(400, with vLLM's wording).
Run it in-process with `serve(...)` as a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ocr2_kedro.generation.base import ChatRequest, GenerationBackend, SamplingConfig


class ServerState:
    def __init__(
        self,
        fail_first: int = 0,
        slow_s: float = 0.0,
        top_logprobs: list[list[float]] | None = None,
        reasoning_field: str | None = None,
        max_prompt_chars: int | None = None,
    ) -> None:
        self.fail_first = fail_first
        self.max_prompt_chars = max_prompt_chars
        self.slow_s = slow_s
        self.top_logprobs = top_logprobs
        self.reasoning_field = reasoning_field
        self.bodies: list[dict] = []
        self.authorizations: list[str | None] = []
        self.requests = 0
        self.prompts: Counter[str] = Counter()
        self.lock = threading.Lock()


def split_reasoning_as_vllm(text: str) -> tuple[str | None, str | None]:
    """(reasoning, content) as vLLM's deepseek_r1 reasoning parser splits a model's output: the
    reasoning ends at `</think>` (the opening tag may be in the prompt); with no `</think>` the whole
    output is reasoning and there is no content; without either tag, no reasoning."""
    if "</think>" in text:
        reasoning, _, content = text.partition("</think>")
        return reasoning.replace("<think>", "").strip("\n"), content.lstrip("\n") or None
    if "<think>" in text:
        return text.partition("<think>")[2].strip("\n"), None
    return None, text


def generate_one(backend: GenerationBackend, request: ChatRequest, sampling: SamplingConfig):
    """The backend's completions of one request. A StopIteration (a scripted model without an
    answer for a prompt) cannot travel through the awaited thread and would leave the request
    hanging; it becomes an error answer (500) instead."""
    try:
        return backend.generate([request], sampling)
    except StopIteration as error:
        raise RuntimeError(f"the served model has no answer for {request.messages}") from error


def build_app(backend: GenerationBackend, state: ServerState) -> FastAPI:
    app = FastAPI()
    generate_lock = asyncio.Lock()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        with state.lock:
            state.requests += 1
            number = state.requests
            state.bodies.append(body)
            state.authorizations.append(request.headers.get("authorization"))
        if number <= state.fail_first:
            return JSONResponse({"error": {"message": "injected overload"}}, status_code=503)
        if state.slow_s:
            await asyncio.sleep(state.slow_s)
        messages = tuple(body["messages"])
        prompt = messages[-1]["content"]
        if state.max_prompt_chars is not None and len(prompt) > state.max_prompt_chars:
            message = (
                f"This model's maximum context length is {state.max_prompt_chars} tokens. However, "
                f"your prompt contains {len(prompt)} input tokens, which exceeds this limit."
            )
            return JSONResponse(
                {"error": {"message": message, "type": "BadRequestError", "code": 400}},
                status_code=400,
            )
        state.prompts[prompt] += 1
        sampling = SamplingConfig(
            temperature=body.get("temperature", 0.6),
            top_p=body.get("top_p", 0.95),
            max_tokens=body.get("max_tokens") or 64,
            seed=body.get("seed") or 0,
        )
        async with generate_lock:  # one model, one request at a time
            [completion] = await asyncio.to_thread(
                generate_one,
                backend,
                ChatRequest(f"req-{number}", messages, body.get("seed")),
                sampling,
            )
        message = {"role": "assistant", "content": completion.text}
        if state.reasoning_field:
            reasoning, message["content"] = split_reasoning_as_vllm(completion.text)
            message[state.reasoning_field] = reasoning
        choice = {"index": 0, "message": message, "finish_reason": completion.finish_reason}
        if body.get("logprobs") and state.top_logprobs is not None:
            k = int(body.get("top_logprobs") or 0)
            choice["logprobs"] = {
                "content": [
                    {
                        "token": f"t{position}",
                        "logprob": values[0],
                        "bytes": None,
                        "top_logprobs": [
                            {"token": f"t{position}-{rank}", "logprob": value, "bytes": None}
                            for rank, value in enumerate(values[:k])
                        ],
                    }
                    for position, values in enumerate(state.top_logprobs)
                ]
            }
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [choice],
            "usage": {
                "prompt_tokens": 0,
                "completion_tokens": completion.num_output_tokens,
                "total_tokens": completion.num_output_tokens,
            },
        }

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(
    backend: GenerationBackend,
    fail_first: int = 0,
    slow_s: float = 0.0,
    top_logprobs: list[list[float]] | None = None,
    reasoning_field: str | None = None,
    max_prompt_chars: int | None = None,
) -> Iterator[tuple[str, ServerState]]:
    """Yield (base_url, state) of a live server on 127.0.0.1; stopped on exit."""
    state = ServerState(
        fail_first=fail_first,
        slow_s=slow_s,
        top_logprobs=top_logprobs,
        reasoning_field=reasoning_field,
        max_prompt_chars=max_prompt_chars,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(backend, state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test OpenAI server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1", state
    finally:
        server.should_exit = True
        thread.join(timeout=10)

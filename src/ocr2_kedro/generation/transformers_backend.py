"""transformers backend: batched `generate` on CPU or GPU, the fallback that needs nothing but torch."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from ocr2_kedro.generation.base import (
    BackendBase,
    ChatRequest,
    Completion,
    SamplingConfig,
    mean_entropy,
)

logger = logging.getLogger(__name__)


class TransformersBackend(BackendBase):
    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 8,
        dtype: str = "auto",
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = model
        self.batch_size = batch_size
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        torch_dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(self.device)
        self.model.eval()

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        torch = self._torch
        completions: list[Completion] = []
        generated_tokens = 0
        started = time.perf_counter()
        batches = range(0, len(requests), self.batch_size)
        for start in tqdm(
            batches, desc=f"generate ({self.model_name})", unit="batch", disable=not requests
        ):
            batch = requests[start : start + self.batch_size]
            prompts = [
                self.tokenizer.apply_chat_template(
                    list(r.messages), tokenize=False, add_generation_prompt=True
                )
                for r in batch
            ]
            inputs = self.tokenizer(
                prompts, return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            # One seed per batch: transformers samples a batch from one generator, so a request's
            # sample depends on its batch; the first request's seed makes the batch reproducible.
            first_seed = batch[0].seed if batch[0].seed is not None else sampling.seed
            torch.manual_seed(first_seed)
            with torch.no_grad():
                output = self.model.generate(
                    **inputs,
                    do_sample=sampling.temperature > 0,
                    temperature=sampling.temperature if sampling.temperature > 0 else None,
                    top_p=sampling.top_p if sampling.temperature > 0 else None,
                    max_new_tokens=sampling.max_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                    # Raw logits (before temperature and top-p), only when entropies are wanted:
                    # one vocabulary-sized row per step and sequence.
                    output_logits=bool(sampling.logprobs),
                    return_dict_in_generate=True,
                )
            new_tokens = output.sequences[:, inputs["input_ids"].shape[1] :]
            entropies = self._token_entropies(output.logits) if sampling.logprobs else None
            for row, (request, tokens) in enumerate(zip(batch, new_tokens, strict=True)):
                ids = tokens.tolist()
                eos_ids = self._eos_ids()
                length = next((i for i, t in enumerate(ids) if t in eos_ids), None)
                finished = length is not None
                ids = ids[:length] if finished else ids
                generated_tokens += len(ids)
                completions.append(
                    Completion(
                        request_id=request.request_id,
                        text=self.tokenizer.decode(ids, skip_special_tokens=True),
                        finish_reason="stop" if finished else "length",
                        num_output_tokens=len(ids),
                        model=self.model_name,
                        mean_token_entropy=None
                        if entropies is None
                        else mean_entropy(entropies[row, : len(ids)].tolist()),
                    )
                )
        elapsed = time.perf_counter() - started
        if requests:
            logger.info(
                "transformers: %d tokens in %.1fs (%.1f tokens/s)",
                generated_tokens,
                elapsed,
                generated_tokens / max(elapsed, 1e-9),
            )
        return completions

    def _token_entropies(self, logits):
        """(batch, steps) entropies (nats) of the model's next-token distribution at each generated
        position, from the raw logits (temperature 1): exact, over the full vocabulary, where
        vLLM and HTTP servers give the top-k approximation (`base.top_k_entropy`)."""
        torch = self._torch

        def entropy(step_logits):  # (batch, vocab) -> (batch,), one step at a time
            log_probs = torch.log_softmax(step_logits.float(), dim=-1)
            return -(log_probs.exp() * log_probs).nan_to_num().sum(dim=-1)

        return torch.stack([entropy(step) for step in logits], dim=1)

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        ids.add(self.tokenizer.eos_token_id)
        ids.add(self.tokenizer.pad_token_id)
        return ids

    def close(self) -> None:
        self.model = None

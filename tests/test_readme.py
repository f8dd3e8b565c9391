"""README.md cannot drift: what a user copies from it works, and what it says a run logs, a run logs.

Fast checks against the project itself: every shell block is valid bash; every `kedro` command (in
a block or in inline code) parses with the real CLI and names registered pipelines, namespaces that
select nodes, conf environments that exist, parameters that exist, tags, nodes and datasets that
exist; every `make` target exists; YAML blocks parse (a catalog entry builds its dataset); numbers
marked as config (`<!-- readme-test: conf ... -->`) are conf's values.

Checks against one real small run (`readme_run`: `kedro run` of the whole chain in a project copy,
conf/test, the teacher and critic a scripted model behind the loopback OpenAI server so that
samples pass and fail and preference pairs exist, the student the tiny model): every Python block
runs in it, and every MLflow name the README declares (`<!-- readme-test: mlflow ... -->` regions,
tests/support/readme.py) is logged by it. Regions with `store=ablations` are checked by the
ablation sweep's test, which has a real sweep's store already.

A new block or name is covered without touching this file; a block that cannot run here is marked
`<!-- readme-test: skip (why) -->` and listed in the output."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import click
import mlflow
import pytest
import yaml
from kedro.pipeline import Pipeline

from ocr2_kedro.generation.base import Completion
from tests.conftest import EMBEDDED, REPO, copy_project, run_kedro
from tests.support import readme as rm
from tests.support.openai_server import serve
from tests.support.parameters import raw_parameters

README = rm.load()
STORES = ("chain", "ablations")
EXPERIMENT = "ocr2_kedro_test"


def _blocks(*languages: str) -> list[rm.CodeBlock]:
    return [block for block in README.blocks if block.language in languages]


def _ids(blocks: list[rm.CodeBlock]) -> list[str]:
    return [f"line{block.line}" for block in blocks]


# --- the README's own structure ------------------------------------------------------------------


def test_markers_parse_and_every_region_has_a_checking_store():
    assert not README.bad_markers, "\n".join(
        f"README.md:{n}: {why}" for n, why in README.bad_markers
    )
    assert README.regions, "the README declares no MLflow name"
    stray = [
        f"README.md:{r.line}: store={r.store}" for r in README.regions if r.store not in STORES
    ]
    assert not stray, f"no test checks these stores ({STORES} do): {stray}"


def test_skipped_blocks_say_why(capsys):
    skipped = [block for block in README.blocks if block.skip]
    for block in skipped:
        assert len(block.skip) > 5, f"{block.where()}: say why it is skipped"
    with capsys.disabled():
        for block in skipped:
            print(f"\n  README block skipped: {block.where()}: {block.skip}")


# --- shell, kedro and make ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block", _blocks(*rm.SHELL_LANGUAGES), ids=_ids(_blocks(*rm.SHELL_LANGUAGES))
)
def test_shell_block_is_valid_bash(block):
    checked = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
    assert checked.returncode == 0, f"{block.where()}: {checked.stderr}"


def _commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command in the shell blocks and in inline code."""
    found = []
    for block in _blocks(*rm.SHELL_LANGUAGES):
        found += [(block.where(), command) for command in rm.shell_commands(block.code)]
    for code, line in README.inline:
        # `kedro ...` stands for any command: only complete ones are checked.
        if re.match(r"(kedro|make)\s", code) and "..." not in code.split():
            found += [(f"README.md:{line} (inline)", c) for c in rm.shell_commands(code)]
    return found


KEDRO_COMMANDS = [
    (where, argv) for where, c in _commands() if (argv := rm.kedro_argv(c)) is not None
]
MAKE_COMMANDS = [(where, c[1:]) for where, c in _commands() if c[0] == "make"]


@functools.cache
def _kedro_cli():
    from kedro.framework.cli.cli import KedroCLI

    return KedroCLI(REPO)


def _parse_kedro(argv: list[str]) -> tuple[list[str], dict]:
    """(command path, parsed options) as the real CLI parses `kedro <argv>`, without running it."""
    cli = _kedro_cli()
    parent = click.Context(cli, info_name="kedro")
    command: click.Command = cli
    path: list[str] = []
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.get_command(parent, name)
        if sub is None:
            raise click.UsageError(f"no command `kedro {' '.join([*path, name])}`")
        path.append(name)
        if isinstance(sub, click.Group) and rest and not rest[0].startswith("-"):
            parent = click.Context(sub, info_name=name, parent=parent)
        command = sub
    if isinstance(command, click.Group) and not rest:
        return path, {}  # a group with a default command (`kedro viz`)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = command.make_context(path[-1] if path else "kedro", rest, parent=parent)
    return path, context.params


@functools.cache
def _registry(env: str) -> dict:
    """The pipelines as a run in `env` builds them (their structure follows the env's parameters)."""
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import configure_project

    from ocr2_kedro.pipeline_registry import register_pipelines
    from ocr2_kedro.pipelines.dynamic import use_config_loader
    from ocr2_kedro.settings import CONFIG_LOADER_ARGS

    configure_project("ocr2_kedro")
    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    use_config_loader(OmegaConfigLoader(conf_source=str(REPO / "conf"), env=env, **args))
    try:
        return register_pipelines()
    finally:
        use_config_loader(None)


@functools.cache
def _catalog_names(env: str) -> tuple[set[str], list[re.Pattern]]:
    from kedro.config import OmegaConfigLoader

    from ocr2_kedro.settings import CONFIG_LOADER_ARGS

    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    entries = OmegaConfigLoader(conf_source=str(REPO / "conf"), env=env, **args)["catalog"]
    plain = {name for name in entries if "{" not in name and not name.startswith("_")}
    patterns = [
        re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(name)))
        for name in entries
        if "{" in name
    ]
    return plain, patterns


def _has_path(tree: dict, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        keys += _leaf_keys(value, path + ".") if isinstance(value, dict) and value else [path]
    return keys


def kedro_run_problems(options: dict) -> list[str]:
    """What in a `kedro run`'s options the project does not have."""
    env = options.get("env") or "base"
    if not (REPO / "conf" / env).is_dir():
        return [f"--env {env}: there is no conf/{env}"]
    problems = []
    registry = _registry(env)
    names = options.get("pipelines") or ([options["pipeline"]] if options.get("pipeline") else [])
    unknown = [name for name in names if name not in registry]
    if unknown:
        return [f"--pipelines {','.join(unknown)}: not registered (registered: {sorted(registry)})"]
    pipeline = sum((registry[name] for name in names or ["__default__"]), Pipeline([]))
    try:
        selected = pipeline.filter(
            tags=options.get("tags") or None,
            from_nodes=options.get("from_nodes") or None,
            to_nodes=options.get("to_nodes") or None,
            node_names=options.get("node_names") or None,
            from_inputs=options.get("from_inputs") or None,
            to_outputs=options.get("to_outputs") or None,
            node_namespaces=options.get("namespaces") or None,
        )
    except ValueError as error:
        return [f"{error}"]
    if not selected.nodes:
        problems.append("the options select no nodes of the pipelines")
    parameters = raw_parameters(env)
    problems += [
        f"--params {key}: no such parameter in conf/base + conf/{env}"
        for key in _leaf_keys(options.get("params") or {})
        if not _has_path(parameters, key)
    ]
    plain, patterns = _catalog_names(env)
    problems += [
        f"--load-versions {name}: no such catalog entry"
        for name in options.get("load_versions") or {}
        if name not in plain and not any(p.fullmatch(name) for p in patterns)
    ]
    return problems


@pytest.mark.parametrize(
    ("where", "argv"), KEDRO_COMMANDS, ids=[" ".join(argv)[:60] for _, argv in KEDRO_COMMANDS]
)
def test_kedro_command_names_what_the_project_has(where, argv):
    try:
        path, options = _parse_kedro(argv)
    except click.ClickException as error:
        pytest.fail(f"{where}: `kedro {' '.join(argv)}`: {error.format_message()}")
    if path == ["run"]:
        problems = kedro_run_problems(options)
        assert not problems, f"{where}: `kedro {' '.join(argv)}`: {problems}"


def test_the_readme_has_kedro_commands_to_check():
    assert len(KEDRO_COMMANDS) > 10  # the parser found them (an empty list would pass everything)


MAKE_TARGETS = set(
    re.findall(r"^([A-Za-z][\w-]*):(?!=)", (REPO / "Makefile").read_text(), flags=re.M)
)


@pytest.mark.parametrize(
    ("where", "args"), MAKE_COMMANDS, ids=[" ".join(a) for _, a in MAKE_COMMANDS]
)
def test_make_command_names_a_target(where, args):
    targets = [arg for arg in args if not arg.startswith("-") and "=" not in arg]
    assert targets, f"{where}: `make {' '.join(args)}` names no target"
    missing = [target for target in targets if target not in MAKE_TARGETS]
    assert not missing, f"{where}: no Makefile target {missing}"


# --- YAML, Python syntax and config numbers --------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("yaml", "yml"), ids=_ids(_blocks("yaml", "yml")))
def test_yaml_block_parses_and_its_catalog_entries_build(block):
    from kedro.io import AbstractDataset

    content = yaml.safe_load(block.code)
    assert isinstance(content, dict), f"{block.where()}: not a mapping"
    for name, entry in content.items():
        if isinstance(entry, dict) and "type" in entry:
            AbstractDataset.from_config(name, dict(entry))  # unknown type or argument: an error


@pytest.mark.parametrize("block", _blocks("python", "py"), ids=_ids(_blocks("python", "py")))
def test_python_block_compiles(block):
    compile(block.code, block.where(), "exec")


@pytest.mark.parametrize(
    "claim", README.conf_claims, ids=[f"{c.env}:{c.key}" for c in README.conf_claims]
)
def test_number_marked_as_config_is_the_config_value(claim):
    parameters = raw_parameters(claim.env)
    assert _has_path(parameters, claim.key), f"README.md:{claim.line}: no parameter {claim.key}"
    value = functools.reduce(lambda node, part: node[part], claim.key.split("."), parameters)
    stated = float(claim.stated.replace(",", ""))
    assert stated == float(value), (
        f"README.md:{claim.line}: says {claim.stated} where conf/{claim.env} sets {claim.key}: {value}"
    )


# --- the checks themselves fail on drift -------------------------------------------------------


def _run(name: str, metrics: dict, tags=(), params=()) -> rm.LoggedRun:
    return rm.LoggedRun(name, metrics, frozenset(params), frozenset(tags), frozenset())


HAND_MADE = rm.parse(
    """A table:

<!-- readme-test: mlflow metric evaluation.<model>.t<temperature>.{} -->
| metric | definition |
|---|---|
| `pass_at_<k>` | oracle; see `self_critique.fallback` |
| `critic_tp`, `critic_fp` | counts |
| <!-- readme-test: when critic_tp > 0 -->`critic_recall` | defined with a true positive |
<!-- /readme-test -->

Each stage logs <!-- readme-test: mlflow metric -->`stage1.loss`<!-- /readme-test --> and the
(MLflow metric `tokenized_examples_lent`); patterns draw <!-- readme-test: conf patterns.max_traces -->8
traces.
"""
)


def test_region_check_reports_missing_unconditional_and_wrongly_conditional_names():
    [table, loss] = HAND_MADE.regions
    assert [n.text for n in table.names] == [
        "pass_at_<k>",
        "critic_tp",
        "critic_fp",
        "critic_recall",
    ]
    assert table.names[-1].when == ("critic_tp",)
    good = _run(
        "chain",
        {
            "evaluation.base.t0.6.pass_at_2": 0.0,
            "evaluation.base.t0.6.critic_tp": 0.0,
            "evaluation.base.t0.6.critic_fp": 3.0,
            "evaluation.tuned.t0.6.pass_at_1": 0.5,
            "evaluation.tuned.t0.6.critic_tp": 1.0,
            "evaluation.tuned.t0.6.critic_fp": 0.0,
            "evaluation.tuned.t0.6.critic_recall": 1.0,
        },
    )
    assert rm.region_problems(table, [good]) == []
    drifted = _run(
        "chain",
        {
            **{k: v for k, v in good.metrics.items() if k != "evaluation.tuned.t0.6.critic_fp"},
            "evaluation.base.t0.6.critic_recall": 0.0,  # logged with no true positive
        },
    )
    problems = "\n".join(rm.region_problems(table, [drifted]))
    assert "`evaluation.tuned.t0.6.critic_fp` is not logged" in problems
    assert "`evaluation.base.t0.6.critic_recall` is logged" in problems
    assert "no run logs the metric `stage1.loss`" in "\n".join(rm.region_problems(loss, [good]))


def test_every_placeholder_is_a_claim_about_each_value():
    region = rm.parse(
        "<!-- readme-test: mlflow param every=source -->`ingestion_<source>_location`, "
        "`ingestion_<source>_revision`<!-- /readme-test -->"
    ).regions[0]
    run = _run("r", {}, params=["ingestion_taco_location", "ingestion_taco_revision"])
    assert rm.region_problems(region, [run]) == []
    partial = _run("r", {}, params=[*run.params, "ingestion_apps_location"])
    assert rm.region_problems(region, [partial]) == [
        "README.md:1: param `ingestion_apps_revision` is not logged in run 'r', which logs its "
        "siblings (logged: ingestion_taco_revision)"
    ]


def test_a_metric_cited_outside_every_region_is_reported_with_what_is_logged():
    run = _run("chain", {"stage2.tokenized_examples_lent": 3.0, "stage1.loss": 1.0})
    [problem] = rm.undeclared_metric_names(HAND_MADE, [run])
    assert "`tokenized_examples_lent`" in problem and "stage2.tokenized_examples_lent" in problem
    assert HAND_MADE.conf_claims == [rm.ConfClaim("base", "patterns.max_traces", "8", 12)]


def test_commands_are_found_in_lists_continuations_and_quoted_wraps():
    commands = rm.shell_commands(
        "V=$(ls data | tail -1) && kedro run --env paper \\\n  --pipelines verify  # comment\n"
        'sbatch --wrap "kedro run --pipelines dataset --load-versions generations:$G"\n'
    )
    kedro = [c for c in commands if rm.kedro_argv(c) is not None]
    assert kedro == [
        ["kedro", "run", "--env", "paper", "--pipelines", "verify"],
        ["kedro", "run", "--pipelines", "dataset", "--load-versions", "generations:$G"],
    ]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["run", "--pipelines", "distil"], "--pipelines distil: not registered"),
        (["run", "--pipelines", "ablations", "--namespaces", "ablations.size"], "ablations.size"),
        (["run", "--env", "cluster"], "there is no conf/cluster"),
        (["run", "--params", "patterns.max_trace=3"], "--params patterns.max_trace"),
        (["run", "--load-versions", "generation:2024"], "--load-versions generation"),
        (["run", "--pipelines", "verify", "--tags", "shards"], "no nodes"),
    ],
)
def test_the_kedro_check_rejects_what_the_project_does_not_have(argv, problem):
    _path, options = _parse_kedro(argv)
    assert problem in " ".join(kedro_run_problems(options))
    with pytest.raises(click.UsageError):
        _parse_kedro(["run", "--pipeline-names", "verify"])


# --- one real small run --------------------------------------------------------------------------

BUNDLED = [json.loads(line) for line in (REPO / "data/01_raw/bundled/problems.jsonl").open()]
BROKEN = {"python": "import sys\nsys.exit(3)", "cpp": "int main() { return 3; }"}
TRACE = (
    "The problem asks for one number. First, I read the input. Let me check the sample: it matches."
)


class ScriptedTeacher:
    """Teacher, critic and pattern classifier with known answers: an even seed writes the bundled
    reference solution, an odd one a broken program (so a question's two samples pass and fail and
    make an execution pair); the critic judges a reference solution right, anything else wrong."""

    model_name = "scripted"

    def _answer(self, request) -> str:
        prompt = request.messages[-1]["content"]
        if prompt.startswith("You are reviewing"):
            right = any(
                solution.rstrip() in prompt
                for problem in BUNDLED
                for solution in problem["solutions"].values()
            )
            return f"I traced the samples.\nJudgement: {'right' if right else 'wrong'}"
        if "yes|no" in prompt:  # the reasoning-pattern classifier
            names = re.findall(r"^(\w+): yes\|no$", prompt, flags=re.M)
            return "\n".join(f"{name}: {('yes', 'no')[i % 2]}" for i, name in enumerate(names))
        [problem] = [p for p in BUNDLED if p["question"].strip() in prompt]
        language = "python" if "```python" in prompt else "cpp"
        good = (request.seed or 0) % 2 == 0
        code = problem["solutions"][language] if good else BROKEN[language]
        return f"<think>\n{TRACE}\n</think>\n```{language}\n{code.rstrip()}\n```"

    def generate(self, requests, sampling):
        return [Completion(r.request_id, self._answer(r), "stop", 10, "scripted") for r in requests]


def _run_settings(url: str, student: Path) -> dict:
    """conf/test, with the scripted teacher and critic and all three training stages."""
    served = {"backend": "openai", "openai": {"endpoints": [url]}}
    return {
        "generation": {
            **served,
            "model": "scripted-teacher",
            "tokenizer": str(EMBEDDED),  # the question token budget
            "samples_per_question": 2,
        },
        "critique": {**served, "model": "scripted-critic"},
        "patterns": {"critic": {"backend": "openai"}},
        "training": {
            "student": str(student),
            "stages": ["stage1", "stage2", "dpo"],
            "trainer": {"max_steps": 2},
        },
        # Evaluation is most of the run's time (three models): one temperature, Python only and one
        # problem per benchmark source still log every name the README gives.
        "evaluation": {
            "languages": ["python"],
            "temperatures": [0.6],
            "subset": {"per_source": {"bundled": 1, "humaneval": 1}},
        },
    }


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory, tiny_model_dir) -> Path:
    project = copy_project(tmp_path_factory.mktemp("readme-run"))
    with serve(ScriptedTeacher()) as (url, _state):
        config = {"run": {"env": "test", "params": _run_settings(url, tiny_model_dir)}}
        (project / "run_config.yml").write_text(yaml.safe_dump(config))
        run_kedro(project, "run", "--config", "run_config.yml")
    return project


def _runs(project: Path) -> list[rm.LoggedRun]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return rm.logged_runs(client, EXPERIMENT)


@pytest.mark.slow
@pytest.mark.parametrize("block", _blocks("python", "py"), ids=_ids(_blocks("python", "py")))
def test_python_block_runs_in_a_project_after_a_run(block, readme_run, tmp_path):
    if block.skip:
        pytest.skip(f"{block.where()}: {block.skip}")
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    ran = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=readme_run,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert ran.returncode == 0, f"{block.where()} failed:\n{block.code}\n{ran.stderr[-4000:]}"


@pytest.mark.slow
def test_every_mlflow_name_the_readme_declares_is_logged(readme_run):
    problems = rm.mlflow_name_problems(README, _runs(readme_run), "chain")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_no_metric_name_is_cited_outside_a_declared_region(readme_run):
    problems = rm.undeclared_metric_names(README, _runs(readme_run))
    assert not problems, "\n".join(problems)

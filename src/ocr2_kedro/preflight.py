"""The start-up check: everything a run's settings need from the machine and the network, checked
before the first node, reported together.

Settings models declare what they need (`Settings.requirements()`: models, tokenizers, hub datasets,
endpoints, GPUs, installed components, executables); `check_requirements` tests each kind the cheap
way (a path, the Hugging Face cache, one short request, `torch.cuda.device_count()`,
`importlib.util.find_spec`, `shutil.which`) and returns one line per problem with the parameter
that asks for it and what to set instead. `check_run` adds what only the run's pipeline knows (its
sources, the sandbox its judges start, checkpoints to evaluate, the preference pairs its DPO stages
read) and raises `PreflightError`.

Network checks run in parallel with a short timeout, so a machine without a hub or with a dead
endpoint learns it in seconds, not after the first hours of a run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from ocr2_kedro.parameters.base import Requirement, Settings

TIMEOUT_S = 8.0


class PreflightError(RuntimeError):
    """The run cannot start: every missing thing on its own line."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(
            f"this run cannot start; {len(self.problems)} thing(s) it needs are missing "
            "(nothing has run yet):\n" + "\n".join(f"  - {problem}" for problem in self.problems)
        )


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _local_model(value: str) -> Path | None:
    """The folder `value` names when it is a local model reference ("embedded", a path)."""
    from ocr2_kedro.models import embedded_model_dir

    if value == "embedded":
        return embedded_model_dir()
    path = Path(value)
    if path.is_absolute() or value.startswith((".", "data/")) or path.exists():
        return path
    return None


def _hub_problem(repo_id: str, repo_type: str, revision: str | None, probe_file: str) -> str | None:
    """Why `repo_id` cannot be read from the Hugging Face hub or its local cache (None: it can)."""
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    cached = huggingface_hub.try_to_load_from_cache(
        repo_id, probe_file, revision=revision, repo_type=repo_type
    )
    if isinstance(cached, str) and repo_type == "model":
        return None
    if _hub_offline():
        return "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
    try:
        api = huggingface_hub.HfApi()
        info = api.model_info if repo_type == "model" else api.dataset_info
        info(repo_id, revision=revision, timeout=TIMEOUT_S)
    except RevisionNotFoundError:
        return f"the hub has no revision {revision!r} of it"
    except RepositoryNotFoundError:
        return "the hub has no such repository (or it is private and no token is set)"
    except Exception as error:  # noqa: BLE001 - any network failure reads the same to the user
        return f"the Hugging Face hub is unreachable from this machine ({type(error).__name__})"
    return None


def _check_model(requirement: Requirement, probe_file: str = "config.json") -> str | None:
    value = str(requirement.value)
    local = _local_model(value)
    if local is not None:
        if not local.exists():
            return f"{local} does not exist"
        if local.is_dir() and not (local / probe_file).exists():
            return f"{local} has no {probe_file} (not a Hugging Face checkpoint)"
        return None
    return _hub_problem(value, "model", requirement.revision, probe_file)


def _check_hub_dataset(requirement: Requirement) -> str | None:
    return _hub_problem(str(requirement.value), "dataset", requirement.revision, "README.md")


def _check_endpoint(requirement: Requirement) -> str | None:
    url = f"{str(requirement.value).rstrip('/')}/models"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S):
            return None
    except urllib.error.HTTPError as error:
        # Answering (401 without a key, 404 on a server without /models) is alive.
        return None if error.code < 500 else f"{url} answered HTTP {error.code}"
    except Exception as error:  # noqa: BLE001 - refused, DNS, timeout: all mean "not answering"
        return f"{url} does not answer ({getattr(error, 'reason', error)})"


def _check_gpus(requirement: Requirement) -> str | None:
    needed = int(requirement.value)
    if needed <= 0:
        return None
    try:
        import torch

        available = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable torch CUDA build: no GPUs
        available = 0
    if available >= needed:
        return None
    return f"needs {needed} CUDA GPU(s); this machine has {available}"


def _check_component(requirement: Requirement) -> str | None:
    module = str(requirement.value)
    if importlib.util.find_spec(module) is not None:
        return None
    return f"needs the `{module}` module, which is not installed"


def _check_executable(requirement: Requirement) -> str | None:
    if shutil.which(str(requirement.value)):
        return None
    return f"needs `{requirement.value}` on PATH, and it is not (e.g. `apt-get install {requirement.value}`)"


CHECKS: dict[str, Callable[[Requirement], str | None]] = {
    "model": _check_model,
    "tokenizer": lambda requirement: _check_model(requirement, "tokenizer_config.json"),
    "hub_dataset": _check_hub_dataset,
    "endpoint": _check_endpoint,
    "gpus": _check_gpus,
    "component": _check_component,
    "executable": _check_executable,
}


def check_requirements(requirements: Iterable[Requirement]) -> list[str]:
    """One line per requirement that is not met: `<path>: <kind> <value>: <why>. <hint>`."""
    unique = list(dict.fromkeys(requirements))
    for requirement in unique:
        if requirement.kind not in CHECKS:
            raise ValueError(f"{requirement.path}: unknown requirement kind {requirement.kind!r}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda r: CHECKS[r.kind](r), unique))
    return [
        f"{r.path}: {r.kind} {r.value!r}"
        + (f" @ {r.revision}" if r.revision else "")
        + f": {why}."
        + (f" {r.hint}" if r.hint else "")
        for r, why in zip(unique, found, strict=True)
        if why
    ]


# ------------------------------------------------------------------------------ what a run needs


PARAMS = "params:"


def _read_parameters(pipeline: Any) -> list[str]:
    return [name.removeprefix(PARAMS) for name in pipeline.inputs() if name.startswith(PARAMS)]


def _needed(requirement: Requirement, read: list[str]) -> bool:
    """Whether a node of the run reads the setting that needs `requirement` (or a block holding
    it): `--pipelines distill` reads training.system_prompt, which needs no GPU."""
    scope = requirement.scope
    return any(scope == name or scope.startswith((f"{name}.", f"{name}[")) for name in read)


def _stages(pipeline: Any) -> set[str]:
    return {name.split(".")[0] for name in _read_parameters(pipeline)}


def variant_of(node: Any) -> str | None:
    """`ablations.<sweep>.<variant>` for a node inside an ablation variant, else None."""
    parts = (node.namespace or "").split(".")
    return ".".join(parts[:3]) if parts[0] == "ablations" and len(parts) >= 3 else None


def _variants(settings: Any, pipeline: Any) -> list[Any]:
    namespaces = {variant_of(node) for node in pipeline.nodes} - {None}
    sweeps = settings["ablations"].sweeps
    return [
        sweeps[sweep][name] for sweep, name in sorted(tuple(n.split(".")[1:3]) for n in namespaces)
    ]


def _node_settings_disabled(node: Any, catalog: Any) -> bool:
    """Whether a node's own settings switch it off (`enabled: false` on a settings input): such a
    node does not open its sources (e.g. a disabled question source)."""
    for name in node.inputs:
        if name.startswith(PARAMS):
            value = catalog.load(name)
            if isinstance(value, Settings) and getattr(value, "enabled", True) is False:
                return True
    return False


def source_requirements(pipeline: Any, catalog: Any) -> list[Requirement]:
    """What the sources the run opens need (datasets with a `requirements()` method, e.g. a
    question source read from the hub), for nodes whose settings do not disable them."""
    found = []
    for node in pipeline.nodes:
        for name in node.inputs:
            if name.startswith(PARAMS) or name not in catalog:
                continue
            requirements = getattr(catalog.get(name), "requirements", None)
            if requirements is None or _node_settings_disabled(node, catalog):
                continue
            for requirement in requirements():
                found.append(
                    Requirement(
                        requirement.kind,
                        requirement.value,
                        f"catalog entry {name}",
                        requirement.hint,
                        requirement.revision,
                    )
                )
    return found


def judging_settings(settings: Any, pipeline: Any) -> list[Any]:
    """The judging settings of every sandbox the run starts: verify's, and each evaluation
    namespace's (an ablation variant's own)."""
    found = []
    if "verify" in _stages(pipeline) and "verify" in settings.stages:
        found.append(settings["verify"])
    if not {"evaluation", "ablations"} <= set(settings.stages):
        return found
    variants = {variant.namespace: variant for variant in _variants(settings, pipeline)}
    for node in pipeline.nodes:
        if node.name.rpartition(".")[2] != "execute_samples":
            continue
        variant = next((v for ns, v in variants.items() if node.name.startswith(f"{ns}.")), None)
        evaluation = variant.evaluation_settings if variant else settings["evaluation"]
        found.append(evaluation.execution)
    return found


def sandbox_problems(judging: Iterable[Any]) -> list[str]:
    """Start one sandbox per distinct (allow_weak_isolation, sandbox_uids) the run's judges use."""
    from ocr2_kedro.execution.sandbox import SandboxUnavailable, probe_isolation

    wanted = {(bool(s.allow_weak_isolation), s.sandbox_uids) for s in judging}
    problems = []
    for allow_weak_isolation, sandbox_uids in sorted(wanted, key=str):
        try:
            probe_isolation(allow_weak_isolation, sandbox_uids)
        except SandboxUnavailable as error:
            problems.append(f"sandbox: {error}")
    return problems


def checkpoint_problems(pipeline: Any, catalog: Any) -> list[str]:
    """An evaluated model that is the latest checkpoint of a training stage no run has written,
    and that this run does not train either."""
    produced = pipeline.all_outputs()
    problems = []
    for node in pipeline.nodes:
        namespace, _, name = node.name.rpartition(".")
        if name != "resolve_model":
            continue
        checkpoint, params_name = node.inputs[:2]
        model = catalog.load(params_name)
        if getattr(model, "path", None) or checkpoint in produced or catalog.exists(checkpoint):
            continue
        problems.append(
            f"{namespace} evaluates the latest `{checkpoint}`, and there is none yet: train first "
            "(`kedro run --pipelines training`), set "
            f"{params_name.removeprefix(PARAMS)}.path to a checkpoint, or evaluate other models "
            "only (`--namespaces evaluation.base`)"
        )
    return problems


def _table_rows(catalog: Any, name: str) -> tuple[int, str]:
    """Rows of the latest version of a table (a lazy scan counts from the parquet metadata) and
    how to name it in a message."""
    dataset = catalog.get(name)
    if not catalog.exists(name):
        return 0, f"{name} (no version yet: `kedro run --pipelines dataset` makes it)"
    resolve = getattr(dataset, "resolve_load_version", None)
    version = resolve() if callable(resolve) else None
    rows = int(catalog.load(name).lazy().select(pl.len()).collect().item())
    return rows, f"{name} (version {version})" if version else name


def preference_pair_problems(settings: Any, pipeline: Any, catalog: Any) -> list[str]:
    """Every DPO stage the run trains (the run's own training.stages, or an ablation variant's)
    on preference pairs it reads from disk, checked against its training.dpo.min_pairs now, not
    after the SFT stages before it have trained. Pairs the run makes itself are checked by the
    training template's `check_preference_pairs` node as soon as they exist."""
    from ocr2_kedro.preferences import too_few_pairs

    produced = pipeline.all_outputs()
    variants = (
        {v.namespace: v for v in _variants(settings, pipeline)}
        if "ablations" in settings.stages
        else {}
    )
    # pairs table -> min_pairs -> who trains DPO on it (the run's training or a variant)
    wanted: dict[str, dict[int, list[str]]] = {}
    for node in pipeline.nodes:
        if node.name.rpartition(".")[2] != "train_dpo" or node.inputs[0] in produced:
            continue
        namespace = variant_of(node)
        if namespace is not None:
            if namespace not in variants:
                continue
            training, who = variants[namespace].training_settings, namespace
        elif "training" in settings.stages:
            training, who = settings["training"], "training"
        else:
            continue
        if "dpo" in training.stages:
            min_pairs = training.dpo_settings().min_pairs
            label = f"{who} (stages {', '.join(training.stages)})"
            wanted.setdefault(node.inputs[0], {}).setdefault(min_pairs, []).append(label)
    problems = []
    for name, by_minimum in wanted.items():
        try:
            rows, where = _table_rows(catalog, name)
        except Exception as error:  # noqa: BLE001 - an unreadable table is reported, not raised
            problems.append(f"{name}: cannot be read to count its pairs ({error})")
            continue
        for min_pairs, trainers in sorted(by_minimum.items()):
            problem = too_few_pairs(rows, min_pairs, where)
            if problem:
                problems.append(f"{'; '.join(trainers)} train(s) DPO: {problem}")
    return problems


def check_run(
    settings: Any, pipeline: Any, catalog: Any, parameter_problems: Iterable[str] = ()
) -> None:
    """Raise PreflightError listing everything the run needs and lacks: `parameter_problems`
    (settings that did not validate) first, then what the valid stages miss on this machine."""
    problems = list(parameter_problems)
    stages = _stages(pipeline) & set(settings.stages)
    read = _read_parameters(pipeline)
    requirements = [r for r in settings.requirements(stages) if _needed(r, read)]
    for variant in _variants(settings, pipeline) if "ablations" in settings.stages else []:
        # Reported under the variant's own parameters: its merged settings ask for them.
        requirements += [
            Requirement(r.kind, r.value, f"{variant.namespace}: {r.path}", r.hint, r.revision)
            for r in (
                *variant.training_settings.requirements(),
                *variant.evaluation_settings.requirements(),
            )
            # A variant evaluates its own final checkpoint (ablations.model), not the main
            # chain's evaluated models.
            if not r.path.startswith("evaluation.models.")
        ]
    requirements += source_requirements(pipeline, catalog)
    problems += check_requirements(requirements)
    if "evaluation" in settings.stages:
        problems += checkpoint_problems(pipeline, catalog)
    problems += preference_pair_problems(settings, pipeline, catalog)
    problems += sandbox_problems(judging_settings(settings, pipeline))
    if problems:
        raise PreflightError(problems)

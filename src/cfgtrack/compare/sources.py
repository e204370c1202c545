"""The one source grammar every command shares: a spec string -> a flat, comparable config.

| spec              | meaning                                                            |
|-------------------|--------------------------------------------------------------------|
| ``prod``          | the primary config composed with ``<env_group>=prod``              |
| ``path/x.yaml``   | a plain YAML or JSON file, flattened as is                         |
| ``run:<run_id>``  | the resolved config recorded on an MLflow run                      |
| ``models:/N@A``   | the run that trained a registered model's version (``models:/N/V``) |
| ``<spec>@<rev>``  | an env or a file as of a git revision, read from git objects       |

Hydra, MLflow and git are imported only by the loaders that need them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgtrack.config.flatten import SEPARATOR, flatten, leaf_key
from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import Settings, load_settings
from cfgtrack.tracking.models import is_model_uri, parse_model_uri

RUN_PREFIX = "run:"
RUN_KINDS = ("run", "model")
FILE_SUFFIXES = (".yaml", ".yml", ".json")
HYDRA_NODE = "hydra"


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``kind`` is ``env``, ``file``, ``run`` or ``model`` (its name the model
    URI, resolved to a run when loaded); ``rev`` the git revision."""

    text: str
    kind: str
    name: str
    rev: str | None = None


@dataclass(frozen=True)
class Config:
    """One side of a comparison: flat values by key path, and where they came from.

    ``env`` is the env the config is for (the env spec's name, a run's recorded env choice),
    used to pick the documented differences that apply; ``commit`` is the commit ``rev`` named.
    """

    spec: Spec
    values: dict[str, Any]
    tree: dict[str, Any] = field(default_factory=dict)
    unresolved: frozenset[str] = frozenset()
    choices: dict[str, str] = field(default_factory=dict)
    env: str | None = None
    commit: str | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """A short column title: the spec as written."""
        return self.spec.text


def parse_spec(text: str) -> Spec:
    """Split a spec into kind, name and revision; one clear error when it cannot be read."""
    spec = text.strip()
    if not spec:
        raise CfgtrackError(
            "empty config spec; give an env name, a file, run:<id>, models:/NAME@ALIAS or "
            "<spec>@<rev>"
        )
    if is_model_uri(spec):
        return Spec(text, "model", parse_model_uri(spec).uri)
    if spec.startswith(RUN_PREFIX):
        run_id = spec[len(RUN_PREFIX) :]
        if not run_id or "@" in run_id:
            raise CfgtrackError(
                f"bad spec {text!r}: write run:<run id> (a recorded run does not change with a "
                "git revision, so it takes no @rev)"
            )
        return Spec(text, "run", run_id)
    name, rev = spec, None
    if "@" in spec and not is_file(Path(spec)):
        name, _, rev = spec.rpartition("@")
        if not name or not rev:
            raise CfgtrackError(f"bad spec {text!r}: write <env or file>@<git revision>")
    names_a_file = name.endswith(FILE_SUFFIXES) or "/" in name or os.sep in name
    return Spec(text, "file" if names_a_file else "env", name, rev)


def names_a_run(text: str) -> bool:
    """Whether a spec stands for a recorded run (``run:<id>`` or a model version's run)."""
    return parse_spec(text).kind in RUN_KINDS


def is_file(path: Path) -> bool:
    """``path.is_file()`` for a path a user typed: one the system cannot look up (a name too
    long) is no file either, rather than an error of its own."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()`` with the same leniency as ``is_file``."""
    try:
        return path.is_dir()
    except OSError:
        return False


def load_config(
    spec: str | Spec,
    *,
    overrides: Sequence[str] = (),
    config_dir: str | Path | None = None,
    config_name: str | None = None,
    settings: Settings | None = None,
) -> Config:
    """Load one side of a comparison from a spec (see the module docstring for the grammar).

    ``overrides`` (Hydra syntax) apply to composed configs (env specs); files and runs are
    compared as they were written or recorded. ``config_dir`` and ``config_name`` override the
    project's ``[tool.cfgtrack]`` settings.
    """
    parsed = spec if isinstance(spec, Spec) else parse_spec(spec)
    settings = settings or load_settings()
    if parsed.kind in RUN_KINDS:
        return _load_run(parsed, settings)
    if parsed.kind == "file":
        return masked(_load_file(parsed), settings)
    folder = Path(config_dir).resolve() if config_dir else settings.config_dir
    return _load_env(parsed, settings, folder, config_name or settings.config_name, overrides)


def masked(
    config: Config, settings: Settings, references: Mapping[str, Any] | None = None
) -> Config:
    """A loaded config with its secrets masked as a run records them, digests included: every
    verb compares, shows and writes the masked values only, and a composed config still
    compares with a run."""
    from dataclasses import replace

    from cfgtrack.redact.key import project_redactor

    redactor = project_redactor(settings)
    values = redactor.flat(config.values, redactor.referring_to_secrets(references))
    renamed = {key: redactor.name(key) for key in config.values}
    return replace(
        config,
        values=values,
        tree=redactor.tree(config.tree, keep_references=True),
        unresolved=frozenset(renamed.get(key, key) for key in config.unresolved),
    )


def _load_env(
    spec: Spec,
    settings: Settings,
    folder: Path,
    config_name: str,
    overrides: Sequence[str],
) -> Config:
    from cfgtrack.config.compose import compose_files
    from cfgtrack.config.era import version_base_for
    from cfgtrack.config.schemas import import_schema_modules
    from cfgtrack.config.yaml_files import FolderFiles

    import_schema_modules(settings)
    group = settings.env_group
    if spec.rev is None:
        if not is_dir(folder):
            raise CfgtrackError(
                f"config folder {folder} does not exist; set --config-dir or config_dir in "
                "[tool.cfgtrack]"
            )
        files: Mapping[str, bytes] = FolderFiles(folder)
        where, commit = _shown(folder), None
    else:
        root, relative = _in_repo(folder)
        commit = _commit(root, spec.rev)
        files = _read_git_folder(root, commit, relative, spec.rev)
        where = f"{relative or '.'}@{spec.rev}"
    options = sorted(
        name[len(group) + 1 : -len(".yaml")]
        for name in files
        if name.startswith(f"{group}/") and "/" not in name[len(group) + 1 :]
    )
    if not options:
        raise CfgtrackError(
            f"{where}: no config group {group!r} (no {group}/*.yaml files); set env_group in "
            "[tool.cfgtrack], or compare files"
        )
    if spec.name not in options:
        raise CfgtrackError(
            f"unknown env {spec.name!r} in {where}/{group}; available: {', '.join(options)}"
        )
    composed = compose_files(
        files,
        config_name,
        [f"{group}={spec.name}", *overrides],
        label=where,
        machine_env=settings.machine_env,
        version_base=version_base_for(settings),
        search_folders=_search_folders(files, config_name, settings.root, commit),
        env_group=group,
    )
    loaded = Config(
        spec=spec,
        values=composed.values,
        tree=composed.tree,
        unresolved=composed.unresolved,
        choices=composed.choices,
        env=spec.name,
        commit=commit,
        source=f"{where}/{config_name.removesuffix('.yaml')}.yaml with {group}={spec.name}",
    )
    return masked(loaded, settings, composed.references)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter messages)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def _search_folders(
    files: Mapping[str, bytes], config_name: str, root: Path, commit: str | None
) -> dict[str, Mapping[str, bytes]]:
    """The primary's relative ``file://`` search paths: folders of the project root, read from
    the work tree or, at a revision, from the same commit."""
    from cfgtrack.config.compose import search_folder_entries
    from cfgtrack.config.yaml_files import FolderFiles
    from cfgtrack.git.objects import folder_tree_id, read_folder

    found: dict[str, Mapping[str, bytes]] = {}
    for entry in search_folder_entries(files, config_name):
        relative = entry.removeprefix("file://")
        if commit is None:
            if (root / relative).is_dir():
                found[entry] = FolderFiles(root / relative)
        elif folder_tree_id(root, commit, relative) is not None:
            found[entry] = read_folder(root, commit, relative)
    return found


def _in_repo(path: Path) -> tuple[Path, str]:
    """The repository holding ``path`` and ``path`` relative to its root (git's spelling)."""
    from cfgtrack.git.repo import repo_toplevel

    absolute = path.resolve()
    start = absolute if is_dir(absolute) else absolute.parent
    while not is_dir(start):
        start = start.parent
    root = repo_toplevel(start)
    return root, absolute.relative_to(root).as_posix().removeprefix(".")


def _commit(root: Path, rev: str) -> str:
    from cfgtrack.git.objects import resolve_commit

    return resolve_commit(root, rev)


def _read_git_folder(root: Path, commit: str, relative: str, rev: str) -> dict[str, bytes]:
    from cfgtrack.git.objects import folder_tree_id, objects_for

    tree = folder_tree_id(root, commit, relative)
    if tree is None:
        raise CfgtrackError(f"config folder {relative or '.'!r} does not exist at revision {rev!r}")
    return objects_for(root).files(tree)


def _load_file(spec: Spec) -> Config:
    path = Path(spec.name)
    commit = None
    if spec.rev is None:
        if not is_file(path):
            raise CfgtrackError(f"no such file: {spec.name}; give an existing YAML or JSON file")
        data = path.read_bytes()
    else:
        from cfgtrack.git.objects import objects_for

        root, relative = _in_repo(path)
        commit = _commit(root, spec.rev)
        found = objects_for(root).read(f"{commit}:{relative}")
        if found is None or found[1] != "blob":
            raise CfgtrackError(f"file {relative!r} does not exist at revision {spec.rev!r}")
        data = found[2]
    shown = spec.text
    parsed = _parse_file(data, shown, json_format=spec.name.endswith(".json"))
    tree = {key: value for key, value in parsed.items() if key != HYDRA_NODE}
    values = flatten(tree)
    unresolved = frozenset(key for key, value in values.items() if _holds_interpolation(value))
    return Config(
        spec=spec, values=values, tree=tree, unresolved=unresolved, commit=commit, source=shown
    )


def _parse_file(data: bytes, shown: str, *, json_format: bool) -> dict[str, Any]:
    if json_format:
        try:
            tree = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CfgtrackError(f"{shown}: not UTF-8 text ({exc.reason}); fix the file") from None
        except json.JSONDecodeError as exc:
            raise CfgtrackError(f"{shown}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise CfgtrackError(f"{shown}: nested too deeply to read; fix the file") from None
    else:
        from cfgtrack.config.yaml_files import parse_yaml

        tree = parse_yaml(data, shown)
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise CfgtrackError(f"{shown}: holds a {type(tree).__name__}, not a mapping of keys")
    return tree


def _holds_interpolation(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_interpolation(item) for item in value)
    return isinstance(value, str) and "${" in value


def _load_run(spec: Spec, settings: Settings) -> Config:
    """A run's recorded config; a model spec becomes the spec of the run that trained it (its
    text kept as the label), so every run-against-run comparison takes it as it is."""
    from dataclasses import replace

    uri = settings.resolved_tracking_uri()
    store = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    if store is not None and not Path(store).is_file():
        raise CfgtrackError(
            f"{'run' if spec.kind == 'run' else 'model'} {spec.name!r} not found: no MLflow "
            f"store at {store}; set MLFLOW_TRACKING_URI or tracking_uri in [tool.cfgtrack]"
        )
    from cfgtrack.config.run_specific import hashed_view
    from cfgtrack.tracking.models import model_record
    from cfgtrack.tracking.runstore import load_record

    trained = ""
    with _quiet("mlflow", "alembic"):
        if spec.kind == "model":
            version, record = model_record(uri, spec.name)
            spec, trained = replace(spec, kind="run", name=version.run_id), f"{version.label}, "
        else:
            record = load_record(uri, spec.name)
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("resolved"), dict):
        raise CfgtrackError(f"run {spec.name!r}: its record holds no resolved config")
    # Leaves that resolve only inside a run (output folder, start time) compare as their text,
    # as they do on composed configs.
    view = hashed_view(config["resolved"], config.get("unresolved"), settings.machine_env)
    tree = {key: value for key, value in view.items() if key != HYDRA_NODE}
    values = flatten(tree)
    recorded = {
        leaf_key(key.split(SEPARATOR), values) for key in config.get("unresolved_keys") or ()
    }
    as_text = {key for key, value in values.items() if _holds_interpolation(value)}
    choices = {k: str(v) for k, v in (config.get("choices") or {}).items() if "/" not in k}
    loaded = Config(
        spec=spec,
        values=values,
        tree=tree,
        unresolved=frozenset((recorded | as_text) & values.keys()),
        choices=choices,
        env=choices.get(settings.env_group),
        source=f"{trained}run {spec.name} in {uri}",
    )
    # recorded masked; a run recorded before masking, or under fewer rules, is masked now
    return masked(loaded, settings, config.get("unresolved"))


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Keep the named libraries' INFO chatter (store migrations) off the user's terminal."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)

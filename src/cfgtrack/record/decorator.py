"""``@cfgtrack.track``: a drop-in for ``@hydra.main`` that records every run.

It runs the app exactly as ``hydra.main`` does (same arguments, same command line: overrides,
``--multirun``, ``--cfg``, ``--help``, shell completion) and adds one Hydra override that
registers ``cfgtrack.TrackingCallback`` under ``hydra.callbacks.cfgtrack``, so the decorator and
the callback share one code path. The override goes into Hydra's parsed arguments, not into
``sys.argv``, so the task sees the command line it was given.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from cfgtrack.config.yaml_files import MAX_YAML_BYTES, parse_yaml
from cfgtrack.record.skip_finished import may_skip, skippable
from cfgtrack.record.task_exit import true_status_on_exit

CALLBACK_KEY = "cfgtrack"
_UNSPECIFIED: Any = object()


def _literal(value: Any) -> str:
    """A value in Hydra's override grammar (quoted strings, lists, dicts, null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_literal(str(k))}:{_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def callback_override(
    experiment: str | None,
    data: Any,
    enabled: bool | None,
    strict: bool | None = None,
    skip_finished: bool | None = None,
) -> str:
    """The Hydra override that registers the tracking callback with these options."""
    fields = {
        "experiment": experiment,
        "data": _data_literal(data),
        "enabled": enabled,
        "strict": strict,
        "skip_finished": skip_finished,
    }
    body = ",".join(f"{key}:{_literal(value)}" for key, value in fields.items())
    return f"++hydra.callbacks.{CALLBACK_KEY}={{_target_:cfgtrack.TrackingCallback,{body}}}"


def _data_literal(data: Any) -> Any:
    if not data:
        return []
    if isinstance(data, Mapping):
        return {str(k): str(v) for k, v in data.items()}
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        return [str(data)]
    return [str(item) for item in data]


def track(
    config_path: str | None = _UNSPECIFIED,
    config_name: str | None = None,
    version_base: str | None = _UNSPECIFIED,
    *,
    experiment: str | None = None,
    data: Any = (),
    mlflow: bool | None = None,
    strict: bool | None = None,
    skip_finished: bool | None = None,
) -> Callable[[Callable[[Any], Any]], Callable[..., Any]]:
    """Decorate a Hydra task like ``@hydra.main`` and record every run it makes.

    ``experiment``: MLflow experiment (default: ``[tool.cfgtrack] experiment``, else the config
    name). ``data``: dataset paths (a list, or a mapping name -> path) to fingerprint.
    ``mlflow``: ``False`` writes the record only to the run's output folder.
    ``strict``: ``True`` refuses to start a run from uncommitted code or config, or a production
    run whose config differs from staging undocumented (see ``cfgtrack.strict``).
    ``skip_finished``: ``True`` does not run a job whose config already has a FINISHED run in
    the experiment (default: the ``skip_finished`` setting; see ``cfgtrack.record.skip_finished``).
    """
    from hydra._internal.utils import _run_hydra, get_args_parser
    from hydra.main import _UNSPECIFIED_

    hydra_version_base = _UNSPECIFIED_ if version_base is _UNSPECIFIED else version_base
    hydra_config_path = _UNSPECIFIED_ if config_path is _UNSPECIFIED else config_path
    resolved_path = _resolve_config_path(hydra_config_path, hydra_version_base)
    override = callback_override(experiment, data, mlflow, strict, skip_finished)

    def decorator(task: Callable[[Any], Any]) -> Callable[..., Any]:
        @functools.wraps(task)
        def main(cfg_passthrough: Any = None) -> Any:
            if cfg_passthrough is not None:
                return task(cfg_passthrough)
            args_parser = get_args_parser()
            args = args_parser.parse_args()
            if args.experimental_rerun is not None:
                from hydra._internal.utils import _get_rerun_conf

                return task(_get_rerun_conf(args.experimental_rerun, args.overrides))
            args.overrides = [*args.overrides, override]
            with clear_yaml_errors(), true_status_on_exit():
                _run_hydra(
                    args=args,
                    args_parser=args_parser,
                    task_function=skippable(task) if may_skip(skip_finished) else task,
                    config_path=resolved_path,
                    config_name=config_name,
                )
            return None

        return main

    return decorator


@contextmanager
def clear_yaml_errors() -> Iterator[None]:
    """While Hydra composes: a config file it reads that cfgtrack's YAML loader refuses
    (malformed, too big, aliases that expand without end) stops with one clear line (file, line,
    problem; exit 2) where Hydra would print a long traceback or fill the memory.

    Only the files the composition reads are looked at, when Hydra reads them: a file is parsed
    a second time only when Hydra fails on it or it holds both anchors and aliases, so a wide
    config costs its one parse by Hydra and unused files cost nothing."""
    from hydra._internal.sources_registry import SourcesRegistry
    from hydra.core.plugins import Plugins

    Plugins.instance()  # its scan imports the config sources anew: patch the class it registers
    file_source = SourcesRegistry.instance().resolve("file")
    original = file_source.load_config

    def load_config(source: Any, config_path: str) -> Any:
        with warnings.catch_warnings():  # Hydra warns about a .yml name when it reads it
            warnings.simplefilter("ignore")
            path = os.path.join(source.path, source._normalize_file_name(config_path))
        try:
            with open(path, "rb") as stream:
                data = stream.read(MAX_YAML_BYTES + 1)
        except OSError:
            return original(source, config_path)  # Hydra's own message for a missing file
        if len(data) > MAX_YAML_BYTES or (b"&" in data and b"*" in data):
            _refuse_bad_yaml(data, path)
        try:
            return original(source, config_path)
        except Exception:
            _refuse_bad_yaml(data, path)
            raise

    file_source.load_config = load_config  # type: ignore[method-assign]
    try:
        yield
    finally:
        file_source.load_config = original  # type: ignore[method-assign]


def _refuse_bad_yaml(data: bytes, path: str) -> None:
    from cfgtrack.errors import CfgtrackError

    try:
        parse_yaml(data, path)
    except CfgtrackError as exc:
        print(f"cfgtrack: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def _resolve_config_path(config_path: Any, version_base: Any) -> Any:
    """Apply ``hydra.main``'s rules for version_base and a missing config_path."""
    from hydra import version
    from hydra.main import _UNSPECIFIED_

    version.setbase(version_base)
    if config_path is not _UNSPECIFIED_:
        return config_path
    return None if version.base_at_least("1.2") else "."

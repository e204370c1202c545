"""``@cfgtrack.track``: a drop-in for ``@hydra.main`` that records every run.

It runs the app exactly as ``hydra.main`` does (same arguments, same command line: overrides,
``--multirun``, ``--cfg``, ``--help``, shell completion) and adds one Hydra override that
registers ``cfgtrack.TrackingCallback`` under ``hydra.callbacks.cfgtrack``, so the decorator and
the callback share one code path. The override goes into Hydra's parsed arguments, not into
``sys.argv``, so the task sees the command line it was given.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cfgtrack.record.skip_finished import skippable
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
            _check_yaml(task, args.config_path or resolved_path, args.config_dir)
            args.overrides = [*args.overrides, override]
            with true_status_on_exit():
                _run_hydra(
                    args=args,
                    args_parser=args_parser,
                    task_function=skippable(task),
                    config_path=resolved_path,
                    config_name=config_name,
                )
            return None

        return main

    return decorator


def _config_folders(task: Callable[..., Any], config_path: Any, config_dir: Any) -> list[Path]:
    folders = [Path(config_dir)] if config_dir else []
    if config_path is None or str(config_path).startswith("pkg://"):
        return folders
    try:
        base = Path(inspect.getfile(task)).resolve().parent
    except TypeError:
        return folders
    return [base / str(config_path), *folders]


def _check_yaml(task: Callable[..., Any], config_path: Any, config_dir: Any) -> None:
    """Stop with one clear line (file, line, problem; exit 2) on malformed YAML, where Hydra
    would print a long traceback."""
    from cfgtrack.config.yaml_files import parse_yaml, yaml_paths
    from cfgtrack.errors import CfgtrackError

    for folder in _config_folders(task, config_path, config_dir):
        if not folder.is_dir():
            continue
        for path in yaml_paths(folder):
            try:
                parse_yaml(path.read_bytes(), str(path))
            except CfgtrackError as exc:
                print(f"cfgtrack: error: {exc}", file=sys.stderr)
                raise SystemExit(exc.exit_code) from None
            except OSError:
                continue


def _resolve_config_path(config_path: Any, version_base: Any) -> Any:
    """Apply ``hydra.main``'s rules for version_base and a missing config_path."""
    from hydra import version
    from hydra.main import _UNSPECIFIED_

    version.setbase(version_base)
    if config_path is not _UNSPECIFIED_:
        return config_path
    return None if version.base_at_least("1.2") else "."

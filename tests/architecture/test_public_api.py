"""The public names of ``cfgtrack`` stay callables, whatever submodules were imported first."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import types

import cfgtrack


def test_public_names_are_not_shadowed_by_submodules():
    for module in pkgutil.walk_packages(cfgtrack.__path__, "cfgtrack."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in cfgtrack.__all__:
        value = getattr(cfgtrack, name)
        assert not isinstance(value, types.ModuleType), f"cfgtrack.{name} is a module"
    assert callable(cfgtrack.track) and callable(cfgtrack.diff)
    assert callable(cfgtrack.load_config) and callable(cfgtrack.TrackingCallback)


def test_import_cfgtrack_loads_no_heavy_library():
    heavy = "('mlflow', 'hydra', 'deepdiff', 'git')"
    code = f"import sys, cfgtrack; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_cli_verb_has_a_library_function_that_prints_nothing():
    import inspect

    from cfgtrack.cli.app import COMMAND_MODULES, _register_commands, app

    registered = list(app.registered_commands)
    try:
        _register_commands()
        verbs = {command.name for command in app.registered_commands}
    finally:
        app.registered_commands[:] = registered
    assert verbs == set(cfgtrack.VERBS) and len(COMMAND_MODULES) == 8
    for verb in cfgtrack.VERBS:
        function = getattr(cfgtrack, verb)
        assert callable(function) and function.__module__.startswith("cfgtrack.verbs."), verb
        source = inspect.getsource(inspect.getmodule(function))
        assert not re.search(r"\bprint\(|^\s*(from|import) (typer|rich)\b", source, re.M), verb

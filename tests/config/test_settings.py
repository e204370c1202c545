from datetime import timedelta

import pytest

from cfgtrack.errors import CfgtrackError
from cfgtrack.settings import default_tracking_uri, load_settings, parse_duration
from support.git import init_repo

pytestmark = pytest.mark.usefixtures("no_caller_settings")


def test_defaults_in_a_git_repo_use_the_git_root(tmp_path):
    init_repo(tmp_path)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    settings = load_settings(sub)
    assert settings.root == tmp_path.resolve()
    assert settings.config_dir == tmp_path.resolve() / "conf"
    assert settings.config_name == "config"
    assert settings.env_group == "env"
    assert settings.stale_delta == timedelta(days=365)
    assert settings.resolved_tracking_uri() == default_tracking_uri(tmp_path.resolve())
    assert settings.resolved_tracking_uri().endswith("/mlflow.db")


def test_pyproject_table_and_environment_override(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cfgtrack]\nconfig_dir = "configs"\nenv_group = "stage"\nstale_after = "2y"\n'
        'tracking_uri = "http://127.0.0.1:5999"\nenv_allowlist = ["FOO_*"]\n'
    )
    settings = load_settings(tmp_path)
    assert settings.config_dir == tmp_path.resolve() / "configs"
    assert settings.env_group == "stage"
    assert settings.stale_delta == timedelta(days=730)
    assert settings.env_allowlist == ("FOO_*",)
    assert settings.resolved_tracking_uri() == "http://127.0.0.1:5999"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:6000")
    assert settings.resolved_tracking_uri() == "http://127.0.0.1:6000"
    monkeypatch.setenv("CFGTRACK_TRACKING_URI", "sqlite:///x.db")
    assert settings.resolved_tracking_uri() == "sqlite:///x.db"
    monkeypatch.setenv("CFGTRACK_ENV_GROUP", "tier")
    monkeypatch.setenv("CFGTRACK_MLFLOW", "0")
    settings = load_settings(tmp_path)
    assert settings.env_group == "tier"
    assert settings.mlflow is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.cfgtrack]\nconfg_dir = 'x'\n", "unknown setting"),
        ("[tool.cfgtrack]\nmlflow = 'yes'\n", "must be true or false"),
        ("[tool.cfgtrack]\nstale_after = 'soon'\n", "cannot read duration"),
        ("[tool.cfgtrack\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path, body, message):
    (tmp_path / "pyproject.toml").write_text(body)
    with pytest.raises(CfgtrackError, match=message) as info:
        load_settings(tmp_path)
    assert "pyproject.toml" in str(info.value)


def test_parse_duration():
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("2w") == timedelta(days=14)
    assert parse_duration("30") == timedelta(days=30)

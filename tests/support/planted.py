"""A tracked project with secrets planted everywhere a run reads from (config, overrides,
environment, git remote, dirty and untracked files, an exception, a sweep) and the scan that
finds them in what the run wrote. Shared by the redaction tests and benchmarks/bench_redaction.py.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

from support.git import commit, git, write
from support.project import CONFIG, Project, make_project

MASK = "***REDACTED***"
DIGEST = re.compile(r"\*\*\*REDACTED:(?:[0-9a-f]{8}:)?[0-9a-f]{12}\*\*\*")


def plain(text: str) -> str:
    """``text`` with every mask's digest left out (the digests have tests of their own)."""
    return DIGEST.sub(MASK, text)


# Secrets the project's files and command lines carry; each must be found nowhere in the output.
IN_CONFIG = {
    "db.password": "Hunter2-db-pass-7781",
    "db.url": "PgUrlPass-5521",
    "api_token": "ApiTok-9f8e7d6c5b4a",
    "aws key id": "AKIAQWERTYUIOPASDFGH",
    "aws secret key": "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",
    "aws key id in a list": "AKIAZXCVBNMASDFGHJKL",
    "aws secret next to it": "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",
    "github token": "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "gitlab token": "glpat-PlantedGitlab0123456789",
    "slack token": "xoxb-123456789012-PlantedSlack1",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlUGxhbnRlZA",
    "private key line 1": "MIIEplantedPrivateKeyLineOne0123456789",
    "private key line 2": "plantedPrivateKeyLineTwoABCDEFGHIJKLMN",
    "bearer header in a list": "BearerTok-4455667788",
    "credentials list item 1": "CredListA-1234",
    "credentials list item 2": "CredListB-5678",
    "camelCase key": "SasTok-ab12cd34ef56",
    "huggingface token": "hf_plantedHuggingFaceToken0123456789ab",
    "openai key": "sk-proj-plantedOpenAIkey0123456789",
    "redact_keys setting": "DsnSecret-0427x",
    "hydra.job.env_set": "HydraEnvSet-31415",
}
IN_OVERRIDES = {
    "override by key": "OverrideSecret-60221",
    "override passwd": "OverridePasswd-1602",
    "override url": "UrlOverridePw-9109",
    "override bearer": "OverrideBearer-6626",
}
IN_ENVIRONMENT = {
    "SERVICE_API_KEY": "EnvRefKey-31415926",  # read by ${oc.env:SERVICE_API_KEY}
    "UPSTREAM_TOKEN": "EnvRefTok-27182818",  # read by ${oc.env:UPSTREAM_TOKEN}
    "WANDB_API_KEY": "EnvWandbKey-8675309",  # allowlisted, secret by name
    "PIPELINE_REPO_URL": "https://ci:EnvUrlPass-4242@git.example.com/x.git",
    "PIPELINE_NOTE": "glpat-EnvGitlabToken012345678",
    "CUSTOM_SECRET_NOT_ALLOWED": "NotAllowedEnv-1111",  # not allowlisted
}
ENV_SECRETS = {
    name: value.split(":")[2].split("@")[0] if "://" in value else value
    for name, value in IN_ENVIRONMENT.items()
}
IN_GIT = {
    "remote url token": "RemoteTok-55aa66bb",
    "dirty tracked file": "PatchTok-13579",
    "untracked file": "PatchYamlPw-24680",
    "aws key id in a new file": "AKIAPLANTEDPATCH0001",
    "aws secret in a new file": "Qq1Ww2Ee3Rr4Tt5Yy6Uu7Ii8Oo9Pp0AaSsDdFfGg",
}
IN_EXCEPTION = {"exception message": "ExcOnlyTok-99887766"}
IN_SWEEP = {"sweep value 1": "SweepTok-1234abcd", "sweep value 2": "SweepTok-5678efgh"}
PLANTED = {
    **IN_CONFIG,
    **IN_OVERRIDES,
    **{f"env {name}": value for name, value in ENV_SECRETS.items()},
    **IN_GIT,
    **IN_EXCEPTION,
    **IN_SWEEP,
}

SECRET_CONFIG = CONFIG + textwrap.dedent(
    f"""\
    db:
      host: db.internal
      password: {IN_CONFIG["db.password"]}
      url: postgres://svc:{IN_CONFIG["db.url"]}@db.internal:5432/app
      dsn_text: host=db.internal user=svc password=${{db.password}}
    api_token: {IN_CONFIG["api_token"]}
    aws:
      aws_access_key_id: {IN_CONFIG["aws key id"]}
      aws_secret_access_key: {IN_CONFIG["aws secret key"]}
      backup_pair: [{IN_CONFIG["aws key id in a list"]}, {IN_CONFIG["aws secret next to it"]}]
    ci:
      checkout_with: {IN_CONFIG["github token"]}
      gitlab_pat: {IN_CONFIG["gitlab token"]}
    notify:
      slack_hook: {IN_CONFIG["slack token"]}
    serving:
      session: {IN_CONFIG["jwt"]}
    tls:
      pem: |
        -----BEGIN RSA PRIVATE KEY-----
        {IN_CONFIG["private key line 1"]}
        {IN_CONFIG["private key line 2"]}==
        -----END RSA PRIVATE KEY-----
    callbacks_extra:
      - name: webhook
        headers:
          Authorization: Bearer {IN_CONFIG["bearer header in a list"]}
    extra_credentials:
      - {IN_CONFIG["credentials list item 1"]}
      - {IN_CONFIG["credentials list item 2"]}
    storage:
      sasToken: {IN_CONFIG["camelCase key"]}
    service:
      api_key: ${{oc.env:SERVICE_API_KEY}}
    upstream:
      header: ${{oc.env:UPSTREAM_TOKEN}}
    hub:
      HF_TOKEN: {IN_CONFIG["huggingface token"]}
    openai:
      key: {IN_CONFIG["openai key"]}
    warehouse:
      db_dsn: {IN_CONFIG["redact_keys setting"]}
    hydra:
      job:
        env_set:
          DB_PASSWORD: {IN_CONFIG["hydra.job.env_set"]}
    """
)

SECRET_APP = """\
from omegaconf import DictConfig

import cfgtrack


@cfgtrack.track(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.behaviour == "fail":
        raise RuntimeError(
            f"login to {cfg.db.url} failed for password {cfg.db.password}; "
            "token=%s" % "ExcOnlyTok-99887766"
        )
    print("TASK-RAN", flush=True)


if __name__ == "__main__":
    main()
"""

APP = "secret_app.py"
EXPERIMENT = "planted-secrets"  # its own experiment: the tracking server is shared by tests
PYPROJECT = f"""\
[tool.cfgtrack]
experiment = "{EXPERIMENT}"
env_allowlist = ["WANDB_*", "PIPELINE_*", "CUDA_VISIBLE_DEVICES"]
redact_keys = ["dsn"]
"""

OVERRIDES = (
    f"+run_secret={IN_OVERRIDES['override by key']}",
    f"+deploy.passwd={IN_OVERRIDES['override passwd']}",
    f"+notify.channel_url=https://bot:{IN_OVERRIDES['override url']}@chat.example.com/hook",
    f"++auth.bearer_token={IN_OVERRIDES['override bearer']}",
)


def planted_project(base: Path, tracking_uri: str, store_from: Path | None = None) -> Project:
    """A committed project full of secrets, with a dirty tree and a remote URL holding a token;
    ``store_from`` as for ``make_project``."""
    project = make_project(base, tracking_uri, store_from=store_from)
    commit(
        project.root,
        "secrets everywhere",
        {
            "conf/config.yaml": SECRET_CONFIG,
            APP: SECRET_APP,
            "pyproject.toml": PYPROJECT,
            "scripts/deploy.sh": "#!/bin/sh\necho deploying\n",
        },
        date="2025-01-03T10:00:00+00:00",
    )
    remote = f"https://x-access-token:{IN_GIT['remote url token']}@github.com/org/app.git"
    git(project.root, "remote", "set-url", "origin", remote)
    write(
        project.root,
        {
            "scripts/deploy.sh": "#!/bin/sh\n"
            f'export DEPLOY_TOKEN="{IN_GIT["dirty tracked file"]}"\necho deploying\n',
            "notes/credentials.txt": f"password: {IN_GIT['untracked file']}\n",
            "notes/aws.txt": f"{IN_GIT['aws key id in a new file']} "
            f"{IN_GIT['aws secret in a new file']}\n",
        },
    )
    return project


def all_files(base: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in base.rglob("*") if path.is_file()}


def leaks(files: Iterable[tuple[Path, bytes]]) -> list[str]:
    return [
        f"{label} ({secret}) in {path}"
        for path, content in files
        for label, secret in PLANTED.items()
        if secret.encode() in content
    ]


def written_by_the_runs(base: Path, before: dict[Path, bytes]) -> dict[Path, bytes]:
    return {path: data for path, data in all_files(base).items() if before.get(path) != data}

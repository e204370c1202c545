"""The redaction rules one by one: which keys are secret, which values look secret, how masks keep
the shape of what they mask."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cfgtrack.config.hash import config_hash
from cfgtrack.record.hydra_files import rewrite_yaml_files
from cfgtrack.redact import MASK, KeyRule, Redactor

AWS_KEY_ID = "AKIAQWERTYUIOPASDFGH"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzPLANTED1"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlUGxhbnRlZA"


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "use_cls_token",
        "tokenizer",
        "tokenizer_name",
        "pad_token",
        "eos_token_id",
        "num_tokens",
        "max_token_length",
        "token_dim",
        "password_file",
        "private_key_path",
        "secret_name",
        "credentials.path",
        "auth.type",
        "author",
        "authority",
        "use_auth",
        "keyword",
        "monkey",
        "secretary_email",
        "aws_access_key_id",
    ],
)
def test_keys_that_are_kept(key):
    assert not KeyRule().is_secret(key)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db.password",
        "db_password",
        "dbPassword",
        "DB_PASSWORD",
        "passwd",
        "api_token",
        "token",
        "hf_token",
        "github_token",
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "apiKey",
        "APIKey",
        "api-key",
        "x-api-key",
        "apikey",
        "OPENAI_API_KEY",
        "client_secret",
        "secrets.db.user",
        "credentials",
        "gcp.credentials.private_key",
        "auth",
        "basic_auth.user",
        "password2",
        "db/creds",
        "session_cookie",
        "signing_key",
    ],
)
def test_keys_that_are_secret(key):
    assert KeyRule().is_secret(key)


def test_extra_words_from_settings_are_whole_words_too():
    rule = KeyRule(["vault_seal", "sas_url_sig"])
    assert rule.is_secret("warehouse.vault_seal")
    assert rule.is_secret("blob.sasUrlSig")
    assert not rule.is_secret("vaultseals")
    assert not KeyRule().is_secret("warehouse.vault_seal")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key id {AWS_KEY_ID} here", f"key id {MASK} here"),
        (f"{AWS_KEY_ID} {AWS_SECRET}", f"{MASK} {MASK}"),
        (f"checkout with {GITHUB}", f"checkout with {MASK}"),
        ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop", f"pat {MASK}"),
        ("gitlab glpat-AbCdEf0123456789xYz_", f"gitlab {MASK}"),
        ("slack xoxb-123456789012-abcdefghijkl", f"slack {MASK}"),
        ("openai sk-proj-plantedOpenAIkey0123456789", f"openai {MASK}"),
        ("hub hf_plantedHuggingFaceToken0123456789ab", f"hub {MASK}"),
        (f"session {JWT}.", f"session {MASK}."),
        ("Authorization: Bearer abc.DEF-ghi_123", f"Authorization: {MASK}"),
        ("sent Bearer abc.DEF-ghi_123", f"sent Bearer {MASK}"),
        (
            "postgres://svc:PgUrlPass-5521@db.internal:5432/app",
            f"postgres://svc:{MASK}@db.internal:5432/app",
        ),
        ("db.password=hunter22,model=large", f"db.password={MASK},model=large"),
        ('export DEPLOY_TOKEN="PatchTok-13579"', f'export DEPLOY_TOKEN="{MASK}"'),
        ("+  password: PatchYamlPw 24680", f"+  password: {MASK}"),
        ("{'password': 'x1234567', 'lr': 0.1}", f"{{'password': '{MASK}', 'lr': 0.1}}"),
        ('{"api_key": 12345678, "b": 1}', f'{{"api_key": {MASK}, "b": 1}}'),
        ("login failed: token=ExcOnlyTok-99887766", f"login failed: token={MASK}"),
    ],
)
def test_values_that_look_secret_are_masked_in_text(text, expected):
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=512 and tokenizer: bpe",
        "git describe a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
        "https://example.com/path?page=2",
        "password: ${oc.env:DB_PASSWORD}",
        "use_auth: true",
        "sk-learn is not scikit-learn",
        "plain words: nothing secret here",
    ],
)
def test_text_without_secrets_is_unchanged(text):
    assert Redactor().text(text) == text


def test_aws_secret_key_is_masked_only_next_to_an_access_key_id():
    redactor = Redactor()
    assert redactor.text(f"checksum {AWS_SECRET}") == f"checksum {AWS_SECRET}"
    tree = redactor.tree({"aws": {"id": AWS_KEY_ID, "sk": AWS_SECRET, "region": "eu-west-1"}})
    assert tree == {"aws": {"id": MASK, "sk": MASK, "region": "eu-west-1"}}


def test_private_key_block_keeps_its_lines_and_patch_marks():
    patch = (
        "diff --git a/tls.pem b/tls.pem\n"
        "+-----BEGIN RSA PRIVATE KEY-----\n"
        "+MIIEplantedPrivateKeyLineOne0123456789\n"
        "+plantedPrivateKeyLineTwoABCDEFGHIJKLMN==\n"
        "+-----END RSA PRIVATE KEY-----\n"
        "+after: 1\n"
    )
    masked = Redactor().text(patch)
    assert "planted" not in masked
    assert masked.splitlines() == [
        "diff --git a/tls.pem b/tls.pem",
        "+-----BEGIN RSA PRIVATE KEY-----",
        f"+{MASK}",
        f"+{MASK}",
        "+-----END RSA PRIVATE KEY-----",
        "+after: 1",
    ]
    cut_short = Redactor().text("-----BEGIN PRIVATE KEY-----\nMIIEcutShortKeyBody123\n")
    assert "cutShort" not in cut_short


def test_tree_masks_secret_leaves_and_keeps_the_shape():
    tree = {
        "model": {"max_tokens": 512, "use_cls_token": True, "tokenizer": "bpe"},
        "db": {"password": "hunter22", "port": 5432, "password_file": "/run/pw"},
        "extra_credentials": ["CredListA-1234", "CredListB-5678"],
        "auth": {"type": "basic", "user": "bob", "enabled": True, "token": None},
        "callbacks": [{"headers": {"Authorization": "Bearer BearerTok-4455667788"}}],
        "pin": {"secret": 123456},
    }
    assert Redactor().tree(tree) == {
        "model": {"max_tokens": 512, "use_cls_token": True, "tokenizer": "bpe"},
        "db": {"password": MASK, "port": 5432, "password_file": "/run/pw"},
        "extra_credentials": [MASK, MASK],
        "auth": {"type": "basic", "user": MASK, "enabled": True, "token": None},
        "callbacks": [{"headers": {"Authorization": MASK}}],
        "pin": {"secret": MASK},
    }


def test_overrides_and_command_line_are_masked_by_key():
    redactor = Redactor()
    assert redactor.string("db.password=hunter2") == f"db.password={MASK}"
    assert redactor.string("+deploy.passwd=a,b") == f"+deploy.passwd={MASK}"
    assert redactor.string("++auth.bearer_token='x y'") == f"++auth.bearer_token={MASK}"
    assert redactor.string("model=large") == "model=large"
    assert redactor.string("~db.password") == "~db.password"
    assert redactor.string("db.password=null") == "db.password=null"
    url = "+notify.url=https://bot:UrlOverridePw-9109@chat.example.com/hook"
    assert redactor.string(url) == f"+notify.url=https://bot:{MASK}@chat.example.com/hook"


def test_config_keeps_references_unresolved_and_masks_what_they_resolve_to():
    captured = {
        "resolved": {
            "service": {"api_key": "EnvRefKey-31415926", "url": "https://svc"},
            "upstream": {"header": "EnvRefTok-27182818"},
            "db": {"password": "hunter22", "dsn": "user=svc hunter22"},
            "message": "connecting with hunter22",
            "note": "hunter22 again",
        },
        "unresolved": {
            "service": {"api_key": "${oc.env:SERVICE_API_KEY}", "url": "https://svc"},
            "upstream": {"header": "${oc.env:UPSTREAM_TOKEN}"},
            "db": {"password": "hunter22", "dsn": "user=svc ${db.password}"},
            "message": "connecting with ${db.password}",
            "note": "hunter22 again",
        },
        "overrides": ["+run_secret=OverrideSecret-60221", "model=large"],
        "hydra_overrides": [],
        "command": ["/usr/bin/python", "app.py", "+run_secret=OverrideSecret-60221"],
        "choices": {"env": "staging"},
    }
    redacted = Redactor().config(captured)
    # a value built from a secret is masked whole: a short secret would not be found in it
    assert redacted["resolved"] == {
        "service": {"api_key": MASK, "url": "https://svc"},
        "upstream": {"header": MASK},
        "db": {"password": MASK, "dsn": MASK},
        "message": MASK,
        "note": f"{MASK} again",
    }
    assert redacted["unresolved"]["service"]["api_key"] == "${oc.env:SERVICE_API_KEY}"
    assert redacted["unresolved"]["upstream"]["header"] == "${oc.env:UPSTREAM_TOKEN}"
    assert redacted["unresolved"]["db"]["password"] == MASK
    assert redacted["overrides"] == [f"+run_secret={MASK}", "model=large"]
    assert redacted["command"][-1] == f"+run_secret={MASK}"
    assert redacted["choices"] == {"env": "staging"}


def test_values_masked_by_key_are_found_again_in_the_rest_of_the_record():
    redactor = Redactor()
    captured = redactor.config(
        {"resolved": {"db": {"password": "hunter22"}}, "unresolved": {"db": {"password": "x"}}}
    )
    record = redactor.rest_of_record(
        {
            "config": captured,
            "git": {"patch": "+print('hunter22')\n", "remote": None},
            "environment": {"env_vars": {"WANDB_API_KEY": "EnvWandbKey-8675309"}, "user": "ada"},
            "run": {"error": {"message": "bad password hunter22"}},
        }
    )
    assert record["git"]["patch"] == f"+print('{MASK}')\n"
    assert record["environment"] == {"env_vars": {"WANDB_API_KEY": MASK}, "user": "ada"}
    assert record["run"]["error"]["message"] == f"bad password {MASK}"
    error = redactor.error({"type": "E", "message": "EnvWandbKey-8675309 rejected"})
    assert error == {"type": "E", "message": f"{MASK} rejected"}


def test_package_names_are_not_key_rules():
    record = Redactor().rest_of_record(
        {"environment": {"packages": {"google-auth": "2.30.0", "keyring": "25.0"}}}
    )
    assert record["environment"]["packages"] == {"google-auth": "2.30.0", "keyring": "25.0"}


def test_redaction_is_idempotent():
    redactor = Redactor()
    text = f"password: hunter22 {GITHUB} postgres://a:b@h/db {JWT}"
    once = redactor.text(text)
    assert redactor.text(once) == once
    tree = {"db": {"password": "hunter22"}, "x": [GITHUB]}
    assert redactor.tree(redactor.tree(tree)) == redactor.tree(tree)


def test_config_hash_is_taken_from_the_redacted_config():
    def hashed(password: str) -> str:
        tree = {"db": {"password": password}, "lr": 0.1}
        redacted = Redactor().config({"resolved": tree, "unresolved": tree})
        return config_hash(redacted["resolved"], redacted["unresolved"])

    assert hashed("first-secret") == hashed("second-secret")


def test_hydra_files_are_rewritten_only_when_they_hold_a_secret(tmp_path: Path):
    clean = tmp_path / "clean.yaml"
    clean.write_text("lr: 0.1 # comment kept\nname: small\n")
    secret = tmp_path / "overrides.yaml"
    secret.write_text("- db.password=hunter22\n- model=large\n")
    reference = tmp_path / "config.yaml"
    reference.write_text("api_key: ${oc.env:API_KEY}\n")
    rewritten = rewrite_yaml_files(
        [clean, secret, reference, tmp_path / "missing.yaml"], Redactor()
    )
    assert rewritten == [secret]
    assert clean.read_text() == "lr: 0.1 # comment kept\nname: small\n"
    assert yaml.safe_load(secret.read_text()) == [f"db.password={MASK}", "model=large"]
    assert reference.read_text() == "api_key: ${oc.env:API_KEY}\n"


def test_large_patch_with_few_secrets_is_masked_line_by_line():
    lines = [f"+line {n} of code with a url http://example.com/{n}" for n in range(20000)]
    lines[12345] = "+password: hunter22"
    masked = Redactor().text("\n".join(lines))
    assert masked.splitlines()[12345] == f"+password: {MASK}"
    assert masked.splitlines()[:3] == lines[:3]

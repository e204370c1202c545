"""Every form of secret real projects hold, in free text, config values, keys and argument lists:
the secret part is gone, and what is not secret stays readable."""

from __future__ import annotations

import pytest

from cfgtrack.redact import MASK, KeyRule, Redactor
from support.secrets import IN_TEXT

KEY = b"test-project-key"


@pytest.mark.parametrize(("text", "secret", "kept"), IN_TEXT, ids=[t[1] for t in IN_TEXT])
def test_every_form_is_masked_in_free_text(text: str, secret: str, kept: str):
    masked = Redactor(digest_key=KEY).text(text)
    assert secret not in masked
    assert "***REDACTED:" in masked
    assert kept in masked


@pytest.mark.parametrize(("text", "secret", "kept"), IN_TEXT, ids=[t[1] for t in IN_TEXT])
def test_every_form_is_masked_as_a_config_value_and_in_a_long_text(text, secret, kept):
    assert secret not in str(Redactor().tree({"note": text}))
    long_text = "\n".join([*(f"line {n} of a patch" for n in range(2000)), text, "end"])
    assert secret not in Redactor().text(long_text)


def test_putty_key_files_keep_their_public_part():
    ppk = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\n"
        "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5PublicLine1\nPublicLine2\n"
        "Private-Lines: 1\nAAAAIPuttyPrivateLine0123456789\n"
        "Private-MAC: 0123abcdef4567890123abcdef456789\n"
    )
    masked = Redactor().text(ppk)
    assert "PuttyPrivateLine" not in masked and "0123abcdef45678" not in masked
    assert "PublicLine1" in masked and "Private-Lines: 1" in masked
    assert "PuttyPrivateLine" not in str(Redactor().tree({"deploy": {"ppk": ppk}}))


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "headers.Authorization",
        "pwd",
        "db.pass",
        "sentry_dsn",
        "connection_string",
        "AZURE_STORAGE_CONNECTION_STRING",
        "stripe_key",
        "account_key",
        "ssh_key",
        "tokens",
        "api_tokens",
        "PGPASSWORD",
        "MYSQL_PWD",
        "PassWord",
    ],
)
def test_secret_key_names(key: str):
    assert KeyRule().is_secret(key)


@pytest.mark.parametrize(
    "key", ["pass_rate", "tokens_per_batch", "special_tokens", "ssh_key_path", "bypass"]
)
def test_words_that_only_name_secrets_at_the_end(key: str):
    assert not KeyRule().is_secret(key)


def test_a_flag_and_its_value_as_two_items():
    redactor = Redactor()
    tree = {"args": ["--db-password", "TwoItemPw-11", "--epochs", "3"]}
    assert redactor.tree(tree) == {"args": ["--db-password", MASK, "--epochs", "3"]}
    captured = redactor.config(
        {"resolved": {}, "unresolved": {}, "command": ["app.py", "--token", "TwoItemTok-12"]}
    )
    assert captured["command"] == ["app.py", "--token", MASK]
    assert redactor.string("--db-password=EqualsPw-13") == f"--db-password={MASK}"


def test_mapping_keys_that_are_secrets_are_masked():
    token = "ghp_PlantedKeyAsName0123456789abcdefghij"
    masked = Redactor().tree({"quota_by_owner": {token: 5, "default": 1}})
    assert token not in str(masked)
    assert masked["quota_by_owner"]["default"] == 1


def test_masks_carry_a_keyed_digest_that_compares():
    one, other = Redactor(digest_key=KEY), Redactor(digest_key=b"another-project")
    same = one.tree({"db": {"password": "hunter22"}})["db"]["password"]
    assert same == Redactor(digest_key=KEY).tree({"db": {"password": "hunter22"}})["db"]["password"]
    assert same != one.tree({"db": {"password": "hunter23"}})["db"]["password"]
    assert same != other.tree({"db": {"password": "hunter22"}})["db"]["password"]
    assert same.startswith("***REDACTED:") and "hunter" not in same
    # a masked text is masked once: its digest survives a second pass
    assert one.text(f"password={same}") == f"password={same}"
    url = "postgres://svc:UrlPw-1@db/app"
    assert one.text(url) != one.text(url.replace("UrlPw-1", "UrlPw-2"))

"""Values holding masks compare by key id and digest: every mask form cfgtrack ever wrote is read,
a clear value facing a mask is compared by its digest and shown masked, and nothing that may
differ is called the same."""

from __future__ import annotations

import pytest

from cfgtrack.redact import Redactor, is_mask
from cfgtrack.redact.masks import compare_secret

OURS = Redactor(digest_key=b"this clone's key")
OTHERS = Redactor(digest_key=b"another clone's key")


def _old_form(mask: str) -> str:
    """The mask as cfgtrack wrote it before masks named their key."""
    return "***REDACTED:" + mask.split(":")[2]


def test_masks_name_their_key_and_every_form_is_a_mask():
    mask = OURS.masked("hunter2")
    assert mask.split(":")[1] == OURS.key_id and len(OURS.key_id) == 8
    assert OURS.key_id != OTHERS.key_id
    assert all(is_mask(form) for form in (mask, _old_form(mask), "***REDACTED***"))


@pytest.mark.parametrize(
    ("left", "right", "verdict", "equal"),
    [
        (OURS.masked("pw-1"), OURS.masked("pw-1"), "same", True),
        (OURS.masked("pw-1"), OURS.masked("pw-2"), "changed", False),
        (OURS.masked("pw-1"), OTHERS.masked("pw-1"), "not comparable", False),
        (OURS.masked("pw-1"), "pw-1", "same", True),  # a run recorded before masking
        ("pw-2", OURS.masked("pw-1"), "changed", False),
        (OTHERS.masked("pw-1"), "pw-1", "not comparable", False),
        (_old_form(OURS.masked("pw-1")), OURS.masked("pw-1"), "same", True),
        (_old_form(OURS.masked("pw-1")), OURS.masked("pw-2"), "changed", False),
        ("***REDACTED***", "***REDACTED***", "not comparable", False),
        (["--db-password", OURS.masked("pw-1")], ["--db-password", "pw-1"], "same", True),
        ([OURS.masked("pw-1"), 3], [OURS.masked("pw-1"), 4], "same", False),
        (f"pg://svc:{OURS.masked('pw-1')}@db/app", "pg://svc:pw-1@db/app", "same", True),
        (
            f"pg://svc:{OURS.masked('pw-1')}@db/a",
            f"pg://svc:{OURS.masked('pw-1')}@db/b",
            "same",
            False,
        ),
        (f"pg://svc:{OURS.masked('pw-1')}@db/app", "pg://svc:pw-2@db/app", "changed", False),
    ],
)
def test_values_holding_masks_compare_by_digest(left, right, verdict, equal):
    found = compare_secret(left, right, OURS)
    assert (found.verdict, found.equal) == (verdict, equal)
    for clear in ("pw-1", "pw-2"):
        assert clear not in str(found.left) + str(found.right)  # a clear side is shown masked


def test_reasons_say_why_masks_do_not_compare():
    other = compare_secret(OURS.masked("x"), OTHERS.masked("x"), OURS)
    assert other.text == "secret: not comparable (recorded under another key)"
    plain = compare_secret("***REDACTED***", OURS.masked("x"), OURS)
    assert plain.text == "secret: not comparable (masked without a digest)"
    assert compare_secret("a", "b", OURS) is None
    around = compare_secret([OURS.masked("x"), 3], [OURS.masked("x"), 4], OURS)
    assert around.kind_text("changed") == "changed (secret: same)"

"""Value rules: text that looks like a secret wherever it appears, whatever its key.

The families follow the ones maintained secret scanners publish (gitleaks, detect-secrets):
provider tokens with a fixed prefix, credentials inside URLs, HTTP authorization headers,
command-line and ``.netrc`` credentials, connection-string keys, key files. Every quantifier
that can run along a long line is bounded, so one pass over a line costs time linear in its
length whatever the line holds.
"""

from __future__ import annotations

import re

MASK = "***REDACTED***"
# A mask with the id of the key and the keyed digest of what it hides:
# ``***REDACTED:0a1b2c3d:1a2b3c4d5e6f***``. Masks written before key ids
# (``***REDACTED:1a2b3c4d5e6f***``) and without a key (``***REDACTED***``) stay readable.
KEY_ID_LENGTH = 8
DIGEST_LENGTH = 12
MASKED = re.compile(
    r"\*\*\*REDACTED(?::(?:(?P<key_id>[0-9a-f]{" + str(KEY_ID_LENGTH) + r"}):)?"
    r"(?P<digest>[0-9a-f]{" + str(DIGEST_LENGTH) + r"}))?\*\*\*"
)
MASK_START = "***REDACTED"  # every form of mask starts with it: a cheap test before the pattern

PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----"
    r"(?P<body>.*?)(?=-----END (?P=kind)PRIVATE KEY( BLOCK)?-----|\Z)",
    re.S,
)
# PuTTY key files: the lines after ``Private-Lines: N`` and the ``Private-MAC`` are the secret.
PUTTY_PRIVATE = re.compile(r"(?m)^(?P<head>[ \t+\-]*Private-Lines:[ \t]*)(?P<count>\d{1,3})[ \t]*$")
PUTTY_MAC = re.compile(r"(?m)(?P<head>Private-(?:MAC|Hash):[ \t]*)(?P<value>[0-9A-Fa-f]+)")

# ``scheme://user:password@host``: the password may hold ``@`` and ``/``; it ends at the last
# ``@`` that a host name follows. ``scheme://token@host``: a user name that looks like a token.
URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}://[^:/@\s\"']{0,256}:)"
    r"(?P<value>[^\s\"']{1,256}?)(?=@[\w\-]+(?:\.[\w\-]+)*(?::\d+)?(?:[/?#\s\"',;)\]}]|$))"
)
URL_USER_TOKEN = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}://)"
    r"(?P<value>(?=[^:/@\s\"']{0,256}\d)(?=[^:/@\s\"']{0,256}[A-Za-z])[^:/@\s\"']{12,256})(?=@)"
)
_AWS_PREFIXES = ("AKIA", "ASIA")  # long-term and temporary access key ids
AWS_KEY_ID = re.compile(r"\b(?:" + "|".join(_AWS_PREFIXES) + r")[0-9A-Z]{16}\b")
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")

# (lower-case markers, pattern): a line is matched against a pattern only when it holds one
# of the pattern's markers.
_TOKENS: tuple[tuple[tuple[str, ...], str], ...] = (
    (tuple(f"gh{kind}_" for kind in "pousr"), r"\bgh[pousr]_[A-Za-z0-9]{30,255}"),
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{22,255}"),
    (("glpat-", "glptt-", "gldt-"), r"\bgl(?:pat|ptt|dt)-[A-Za-z0-9_\-]{20,255}"),
    (("xox",), r"\bxox[abeprs]-[A-Za-z0-9\-]{10,255}"),
    (
        ("hooks.slack.com",),
        r"(?<=hooks\.slack\.com/)(?:services|workflows)/[A-Za-z0-9/_\-+]{8,255}",
    ),
    (("sk-",), r"\bsk-(?=[A-Za-z0-9_\-]{0,255}\d)[A-Za-z0-9_\-]{20,512}"),
    (
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
        r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,255}",
    ),
    (("sg.",), r"\bSG\.[A-Za-z0-9_\-]{16,64}\.[A-Za-z0-9_\-]{16,64}"),
    (("aiza",), r"\bAIza[0-9A-Za-z_\-]{35}"),
    (("ya29.",), r"\bya29\.[0-9A-Za-z_\-]{20,512}"),
    (("npm_",), r"\bnpm_[A-Za-z0-9]{30,64}"),
    (("pypi-",), r"\bpypi-AgE[A-Za-z0-9_\-]{20,512}"),
    (("hf_",), r"\bhf_[A-Za-z0-9]{30,64}"),
    (("shpat_", "shpss_"), r"\bshp(?:at|ss)_[a-fA-F0-9]{32}"),
    (("dop_v1_",), r"\bdop_v1_[a-f0-9]{64}"),
    (("eyj",), r"\beyJ[A-Za-z0-9_\-]{4,2048}\.eyJ[A-Za-z0-9_\-]{4,4096}\.[A-Za-z0-9_\-]{4,2048}"),
    (("bearer",), r"(?i:(?<=\bbearer[ \t]))[A-Za-z0-9\-._~+/]{8,2048}=*"),
    (
        ("basic",),
        r"(?i:(?<=\bbasic[ \t]))(?=[A-Za-z0-9+/]{0,2048}[0-9+/=])[A-Za-z0-9+/]{12,2048}={0,2}",
    ),
    (("sig=",), r"(?<=[?&;]sig=)[^&\s\"'<>]{8,512}"),
    (("sk",), r"\bSK[0-9a-fA-F]{32}\b"),  # Twilio API key
)
TOKEN_MARKERS = tuple(marker for markers, _ in _TOKENS for marker in markers)
TOKEN_PATTERNS = {markers: re.compile(pattern) for markers, pattern in _TOKENS}

# ``curl -u user:password`` and ``--user user:password``.
CLI_USER = re.compile(
    r"(?<![\w\-])(?:-u|--user)(?:[ \t]+|=)['\"]?[^\s:'\"]{1,256}:(?P<value>[^\s'\"]{1,256})"
)
# ``.netrc``: ``machine host login user password secret``.
NETRC = re.compile(
    r"\b(?:machine|default|login)[ \t]+[^\s]{1,256}(?:[ \t]+login[ \t]+[^\s]{1,256})?"
    r"[ \t]+password[ \t]+(?P<value>[^\s]{1,256})"
)
# ``key=value`` and ``key: value`` in free text; the key decides. After ``=`` a value ends at
# a space or separator (``a=1,password=x``), after ``:`` at the end of the line (YAML), or at a
# comma or brace when the key was quoted (JSON, Python reprs). A key may start with the dashes
# of a command-line flag (``--db-password=x``).
_KEY = r"(?<![\w.\-])-{0,2}(?P<key>[A-Za-z_][\w.\-]{0,255}+)(?P<quoted>[\"'])?[ \t]{0,64}+"
_QUOTED = r"\"[^\"\n]{0,4096}\"|'[^'\n]{0,4096}'"
ASSIGN_EQUALS = re.compile(_KEY + r"=[ \t]*(?P<value>" + _QUOTED + r"|[^\s,;&\"'<>]*)")
ASSIGN_COLON = re.compile(
    _KEY + r":(?!//)[ \t]*(?P<value>" + _QUOTED + r"|(?(quoted)[^\n,}]*|[^\n]*))"
)
# ``--db-password hunter2``: a flag and its value, one space apart.
FLAG_VALUE = re.compile(
    r"(?<![\w.\-])--?(?P<key>[A-Za-z_][\w.\-]{0,255})[ \t]{1,8}(?P<value>[^\s\-][^\s]{0,1024})"
)
AWS_MARKERS = tuple(prefix.lower() for prefix in _AWS_PREFIXES)

"""Secret detection and masking: nothing that looks like a secret leaves the process.

Two kinds of rules (``rules``: key words; ``patterns``: value families after gitleaks and
detect-secrets), applied to every part of a run record before any sink sees it, to every config
a verb loads or composes, and to every message:

- Key rules: a key path is secret when one of its segments names a secret as whole words
  (``db_password``, ``api_token``, ``sentry_dsn``, ``apiKey``), split on ``_``, ``-``, digits
  and camelCase. Switch, count, descriptor and vocabulary words keep ``max_tokens``,
  ``password_file``, ``cls_token``. Booleans and nulls are never masked.
- Value rules: text that looks like a secret wherever it appears (provider tokens, URL
  credentials, authorization headers, key files, ``key=value`` and ``--flag value`` where the key
  says secret), and every value already masked by a key rule, wherever it shows up again.

Masks name their key and carry a keyed digest (``key``), so masked values still compare
(``masks``: same, changed, or not comparable under another key). A ``Redactor`` learns the
values it masks by key, so one per run redacts the config first, then the rest of the record
with what it learned.
"""

from __future__ import annotations

from cfgtrack.redact.patterns import MASK
from cfgtrack.redact.redactor import Redactor
from cfgtrack.redact.rules import KeyRule, is_mask

__all__ = ["MASK", "KeyRule", "Redactor", "is_mask"]

"""Secret detection and masking: nothing that looks like a secret leaves the process.

Two kinds of rules, applied to every part of a run record before any sink sees it:

- Key rules: a key path is secret when one of its segments names a secret as whole words
  (``db_password``, ``api_token``, ``aws_secret_access_key``, ``apiKey``), split on ``_``, ``-``,
  digits and camelCase. Whole words keep ``max_tokens`` and ``tokenizer``; a segment that starts
  with a switch or count word (``use_``, ``max_``, ``num_``...) or ends with a word that names
  something about the secret (``_path``, ``_file``, ``_name``, ``_url``...) is kept too, and so
  is a vocabulary token (``cls_token``, ``pad_token``). Booleans and nulls are never masked.
- Value rules: text that looks like a secret wherever it appears (AWS key ids and the secret
  keys next to them, GitHub, GitLab, Slack, OpenAI and Hugging Face tokens, private key blocks,
  JWTs, bearer tokens, the password of a ``user:password@`` URL, ``password=...`` assignments)
  and every value already masked by a key rule, wherever it shows up again (a patch, a
  traceback, a log line).

A ``Redactor`` learns the values it masks by key, so one per run redacts the config first, then
the rest of the record with what it learned.
"""

from __future__ import annotations

from cfgtrack.redact.patterns import MASK
from cfgtrack.redact.redactor import Redactor
from cfgtrack.redact.rules import KeyRule, is_mask

__all__ = ["MASK", "KeyRule", "Redactor", "is_mask"]

"""URLs without their credentials, for git remotes and tracking URIs alike."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)(?::[^@/]*)?@)?(?P<rest>[^/:@]+:(?!//).*)$", re.S)
_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}


def sanitize_url(url: str) -> str:
    """``url`` without credentials: user:password and tokens go, the host and path stay.

    In ssh URLs the user name is kept (``ssh://git@host/x``), as in scp-like ``git@host:org/x``:
    it names an account, not a secret. A query string can only carry tokens, so it goes too.
    """
    scp_like = _SCP_LIKE.match(url)
    if scp_like:
        user = scp_like["user"]
        return f"{user}@{scp_like['rest']}" if user else scp_like["rest"]
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        keep_user = parts.scheme.lower() in _SSH_SCHEMES and user
        netloc = f"{user}@{host}" if keep_user else host
    else:
        netloc = parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

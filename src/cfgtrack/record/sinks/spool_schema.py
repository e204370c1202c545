"""What a spool ``entry.json`` must hold to be uploaded: each field and the types it may have.

An entry that does not (hand-edited, cut short, from another cfgtrack) is set aside by ``sync``
with one line instead of failing every upload after it.
"""

from __future__ import annotations

from typing import Any

from cfgtrack.record.run_record import STATUSES

_FIELDS: dict[str, tuple[type | None, ...]] = {  # field -> the types it may have
    "status": (str,),
    "tracking_uri": (str,),
    "experiment": (str,),
    "run_name": (str,),
    "role": (str, type(None)),
    "start_ms": (int, type(None)),
    "end_ms": (int, type(None)),
    "tags": (dict,),
    "params": (dict, type(None)),
    "extra_tags": (dict, type(None)),
    "data": (list,),
    "parent": (dict, type(None)),
    "output_dir": (str, type(None)),
    "process": (dict, type(None)),
}


def problem_of(meta: dict[str, Any], name: str) -> str | None:
    """What makes ``meta`` unusable as the entry in folder ``name``, or None."""
    if meta.get("local_id") != name:
        return f"its local_id is not {name!r}"
    for key, types in _FIELDS.items():
        value = meta.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"{key!r} is missing or not a {' or '.join(t.__name__ for t in types)}"
    if meta["status"] not in STATUSES:
        return f"unknown status {meta['status']!r}"
    for key in ("tags", "params", "extra_tags"):
        if any(not isinstance(v, str) for v in (meta.get(key) or {}).values()):
            return f"{key!r} holds a value that is not text"
    process = meta.get("process") or {}
    if not isinstance(process.get("host", ""), str) or not isinstance(process.get("pid", 0), int):
        return "'process' is not a host and a pid"
    return None

"""The audit report as JSON: the same facts as the Markdown and HTML, for other tools."""

from __future__ import annotations

import json
from typing import Any

from cfgtrack.ages.audit import Audit
from cfgtrack.ages.model import age_days
from cfgtrack.render import ages_text as text
from cfgtrack.render.audit.models import models_dict
from cfgtrack.render.documents import document


def audit_document(audit: Audit) -> dict[str, Any]:
    return document(
        "report",
        {
            "quarter": audit.quarter.label,
            "period": {
                "start": audit.quarter.start.date().isoformat(),
                "end": audit.quarter.last_day.isoformat(),
            },
            "as_of": audit.as_of.isoformat(),
            "generated_at": audit.generated_at.isoformat(),
            "revision": audit.head,
            "threshold_days": audit.threshold.days,
            "ages_are_lower_bounds": audit.lower_bounds,
            "notes": text.history_notes(audit.histories),
            "summary": audit.summary(),
            "envs": [
                {
                    **text.history_dict(env.history),
                    "stale": [text.parameter_dict(p) for p in env.stale],
                    "changed_in_quarter": [
                        {
                            "key": item.key,
                            "previous": None
                            if item.previous is None or not item.previous.present
                            else item.previous.value,
                            **text.change_dict(
                                item.change, env.history.is_lower_bound(item.change)
                            ),
                        }
                        for item in env.changed
                    ],
                }
                for env in audit.envs
            ],
            "undocumented_differences": {
                "available": audit.undocumented is not None,
                "note": audit.undocumented_note,
                "items": [
                    {"envs": [item.left_env, item.right_env], **item.change.to_dict()}
                    for item in audit.undocumented or []
                ],
            },
            "production_models": models_dict(audit.models, audit.as_of),
            "long_divergences": [
                {
                    "key": item.key,
                    "envs": [item.left_env, item.right_env],
                    "values": [
                        None if item.left is None else item.left.value,
                        None if item.right is None else item.right.value,
                    ],
                    "since": item.since.isoformat(),
                    "days": age_days(audit.as_of - item.since),
                    "age_is_lower_bound": item.lower_bound,
                }
                for item in audit.divergences
            ],
            "cost_of_debt": None if audit.debt is None else audit.debt.to_dict(),
        },
    )


def render_json(audit: Audit) -> str:
    return json.dumps(audit_document(audit), indent=2, ensure_ascii=False) + "\n"

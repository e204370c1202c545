"""The audit's production-models section: its table (Markdown and HTML), its chart (HTML) and
its part of the JSON document, all from ``cfgtrack.ages.production``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cfgtrack.ages.model import age_days, age_text
from cfgtrack.ages.production import ProductionModel, ProductionModels
from cfgtrack.render import ages_text as text
from cfgtrack.render.audit.table import Table

TITLE = "Production models"
CHART_ID = "models-chart"
SHOWN_KEYS = 5


def models_table(section: ProductionModels | None, as_of: datetime, threshold: timedelta) -> Table:
    headers = [
        "model",
        "version",
        "env",
        "trained",
        "age",
        "config hash",
        "sha",
        "config changed since",
        "data vs latest run",
        "data age",
        "status",
    ]
    rows = [_row(model, as_of) for model in (section.models if section else [])]
    title = f"{TITLE} (flagged: trained over {_duration(threshold)} ago on a config changed since)"
    return Table(title, headers, rows, section.note if section else "Not read.")


def _row(model: ProductionModel, as_of: datetime) -> list[str]:
    age = model.age(as_of)
    return [
        model.uri,
        model.version or "-",
        model.env or "-",
        "-" if model.trained_at is None else text.date_text(model.trained_at),
        "-" if age is None else age_text(age),
        (model.config_hash or "-").removeprefix("sha256:")[:12],
        (model.commit or "-")[:10],
        _changed_text(model.changed_keys, model.problem),
        _data_text(model),
        ", ".join(f"{name} {_hours(age_s)}" for name, age_s in model.data_ages.items()) or "-",
        "stale" if model.stale else "unknown" if model.changed_keys is None else "current",
    ]


def _duration(span: timedelta) -> str:
    """A threshold as a user wrote it: days, else hours, minutes or seconds."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return _count(seconds // size, unit)
    return _count(seconds, "second")


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def _changed_text(keys: list[str] | None, problem: str) -> str:
    if keys is None:
        return problem or "not compared"
    if not keys:
        return "unchanged"
    shown = ", ".join(keys[:SHOWN_KEYS])
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return f"{_count(len(keys), 'key')}: {shown}{more}"


def _data_text(model: ProductionModel) -> str:
    if model.data_changed is None:
        return "no run to compare"
    latest = "its own run" if model.latest_run_id == model.run_id else "latest run"
    if not model.data_changed:
        return f"same as {latest}"
    return f"differs from {latest}: {', '.join(model.data_changed)}"


def _hours(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"


def models_dict(section: ProductionModels | None, as_of: datetime) -> dict[str, Any]:
    """The section for the JSON document: every fact the table shows, untruncated."""
    return {
        "available": section is not None and not section.note,
        "note": section.note if section else "Not read.",
        "models": [
            {
                "uri": model.uri,
                "model": model.model,
                "alias": model.alias,
                "version": model.version,
                "run_id": model.run_id,
                "env": model.env,
                "trained_at": None if model.trained_at is None else model.trained_at.isoformat(),
                "age_days": None
                if model.trained_at is None
                else age_days(as_of - model.trained_at),
                "config_hash": model.config_hash,
                "commit": model.commit,
                "changed_keys": model.changed_keys,
                "latest_run_id": model.latest_run_id,
                "data_changed": model.data_changed,
                "data_age_s": model.data_ages,
                "stale": model.stale,
                "problem": model.problem or None,
            }
            for model in (section.models if section else [])
        ],
    }


def models_svg(section: ProductionModels | None, as_of: datetime, threshold: timedelta) -> str:
    """One bar per alias: days since its model was trained, red when flagged, with the number
    of keys its env's config changed since; the threshold as a dashed line. "" without models."""
    models = [m for m in (section.models if section else []) if m.trained_at is not None]
    if not models:
        return ""
    from matplotlib.figure import Figure

    from cfgtrack.render.audit.chart import svg_of

    figure = Figure(figsize=(8, 1.4 + 0.4 * len(models)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    days = [(as_of - m.trained_at).total_seconds() / 86400 for m in models]  # type: ignore[operator]
    colours = ["#cf222e" if m.stale else "#0969da" for m in models]
    bars = axes.barh([m.uri for m in models], days, color=colours, height=0.6)
    labels = [_bar_label(m) for m in models]
    axes.bar_label(bars, labels=labels, padding=4, fontsize=8)
    axes.axvline(threshold.total_seconds() / 86400, color="#59636e", linestyle="--", linewidth=1)
    axes.invert_yaxis()
    axes.set_xlim(0, max([*days, threshold.total_seconds() / 86400]) * 1.35 or 1)
    axes.set_xlabel("days since trained (dashed: stale after)")
    axes.set_title(f"Production models as of {text.date_text(as_of)}", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    return svg_of(figure)


def _bar_label(model: ProductionModel) -> str:
    changed = model.changed_keys
    drift = "not compared" if changed is None else f"{_count(len(changed), 'key')} changed since"
    return f"{'STALE · ' if model.stale else ''}{drift}"

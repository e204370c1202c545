"""The audit report as one self-contained HTML file: inline CSS, the chart as inline SVG."""

from __future__ import annotations

from cfgtrack.ages.audit import Audit
from cfgtrack.render import ages_text as text
from cfgtrack.render.audit import models
from cfgtrack.render.audit.chart import ages_svg
from cfgtrack.render.audit.debt import debt_tables, velocity_svg
from cfgtrack.render.audit.markdown import header_lines
from cfgtrack.render.audit.tables import all_tables, env_name

VALUE_COLUMNS = ("value", "from", "to", "left value", "right value")
SHORT_COLUMNS = ("last change", "age", "sha", "date", "differing since", "for")


def render_html(audit: Audit) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from cfgtrack import __version__

    environment = Environment(
        loader=PackageLoader("cfgtrack.render.audit", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    chart = ages_svg(
        [(env_name(env.env), env.parameters) for env in audit.envs],
        f"Parameter ages per env ({audit.quarter.label}, as of {text.date_text(audit.as_of)})",
    )
    return environment.get_template("audit.html.j2").render(
        audit=audit,
        meta=header_lines(audit),
        notes=text.history_notes(audit.histories),
        tables=all_tables(audit),
        chart=chart,
        figures={
            models.TITLE: (
                models.CHART_ID,
                models.models_svg(audit.models, audit.as_of, audit.threshold),
            )
        },
        debt_tables=debt_tables(audit.debt),
        debt_chart=velocity_svg(audit.debt),
        value_columns=VALUE_COLUMNS,
        short_columns=SHORT_COLUMNS,
        as_of=text.date_text(audit.as_of),
        version=__version__,
        generated=audit.generated_at.isoformat(timespec="seconds"),
    )

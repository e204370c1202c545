"""The audit's tables as headers and rows of text: the Markdown and HTML reports show the same."""

from __future__ import annotations

from cfgtrack.ages.audit import Audit, EnvAudit
from cfgtrack.ages.model import age_text
from cfgtrack.render import ages_text as text
from cfgtrack.render.audit.models import models_table
from cfgtrack.render.audit.table import Table


def env_name(env: str | None) -> str:
    return env if env is not None else "(default)"


def summary_table(audit: Audit) -> Table:
    headers = [
        "env",
        "parameters",
        "stale",
        "unreviewed stale",
        "reviewed",
        "changed this quarter",
        "commits skipped",
    ]
    rows = [
        [
            env_name(row["env"]),
            *(
                str(row[name])
                for name in (
                    "parameters",
                    "stale",
                    "unreviewed_stale",
                    "reviewed",
                    "changed_in_quarter",
                    "commits_skipped",
                )
            ),
        ]
        for row in audit.summary()
    ]
    return Table("Summary", headers, rows, "No envs.")


def stale_table(env: EnvAudit, threshold_days: int) -> Table:
    headers = ["key", "value", "last change", "age", "sha", "author", "subject", "status", "review"]
    rows = []
    for parameter in env.stale:
        commit, review = parameter.change.commit, parameter.review
        rows.append(
            [
                parameter.key,
                text.value_text(parameter.value),
                text.date_text(commit.date),
                age_text(parameter.age, parameter.lower_bound),
                text.commit_label(commit),
                commit.author,
                commit.subject,
                parameter.status.value,
                ""
                if review is None
                else f"{review.reviewer}, {text.date_text(review.date)}: {review.reason}",
            ]
        )
    title = f"Stale parameters in {env_name(env.env)} (unchanged for over {threshold_days} days)"
    return Table(title, headers, rows, "Nothing stale.")


def changes_table(env: EnvAudit) -> Table:
    headers = ["date", "key", "from", "to", "sha", "author", "subject"]
    rows = [
        [
            text.date_text(item.change.commit.date),
            item.key,
            "(new)" if item.previous is None else text.change_value_text(item.previous),
            text.change_value_text(item.change),
            text.commit_label(item.change.commit),
            item.change.commit.author,
            item.change.commit.subject,
        ]
        for item in env.changed
    ]
    title = f"Changed this quarter in {env_name(env.env)}"
    return Table(title, headers, rows, "No parameter changed this quarter.")


def divergence_table(audit: Audit) -> Table:
    headers = ["key", "envs", "left value", "right value", "differing since", "for"]
    rows = []
    for item in audit.divergences:
        duration = age_text(audit.as_of - item.since, item.lower_bound)
        rows.append(
            [
                item.key,
                f"{env_name(item.left_env)} / {env_name(item.right_env)}",
                text.side_text(item.left is not None, item.left and item.left.value),
                text.side_text(item.right is not None, item.right and item.right.value),
                text.date_text(item.since),
                duration,
            ]
        )
    title = "Keys whose values have differed between envs for over a year"
    return Table(title, headers, rows, "No long-standing differences between envs.")


def undocumented_table(audit: Audit) -> Table:
    headers = ["key", "envs", "kind", "left value", "right value"]
    rows = []
    for item in audit.undocumented or []:
        change = item.change
        rows.append(
            [
                change.key,
                f"{item.left_env} / {item.right_env}",
                change.kind.replace("_", " "),
                text.side_text(change.left.present, change.left.value),
                text.side_text(change.right.present, change.right.value),
            ]
        )
    return Table("Undocumented differences between envs", headers, rows, audit.undocumented_note)


def all_tables(audit: Audit) -> list[Table]:
    """Every table of the report in reading order."""
    tables = [summary_table(audit), models_table(audit.models, audit.as_of, audit.threshold)]
    for env in audit.envs:
        tables += [stale_table(env, audit.threshold.days), changes_table(env)]
    return [*tables, undocumented_table(audit), divergence_table(audit)]

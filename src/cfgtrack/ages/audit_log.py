"""Keep each quarterly audit as an MLflow run: the report files as artifacts, counts as metrics."""

from __future__ import annotations

from pathlib import Path

from cfgtrack.ages.audit import Audit

AUDIT_EXPERIMENT = "cfgtrack-audit"
ARTIFACT_FOLDER = "audit"


def log_audit(audit: Audit, files: list[Path], tracking_uri: str) -> str:
    """Log ``files`` as artifacts of a new, finished audit run; returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    from cfgtrack.tracking.experiments import ensure_experiment
    from cfgtrack.tracking.runstore import client_for

    client = client_for(tracking_uri)
    experiment_id = ensure_experiment(client, AUDIT_EXPERIMENT, tracking_uri)
    tags = {
        "cfgtrack.kind": "audit",
        "cfgtrack.quarter": audit.quarter.label,
        "cfgtrack.ages_are_lower_bounds": str(audit.lower_bounds).lower(),
        "mlflow.source.git.commit": audit.head,
    }
    run = client.create_run(
        experiment_id, run_name=f"config audit {audit.quarter.label}", tags=tags
    )
    run_id = run.info.run_id
    try:
        stamp = int(audit.as_of.timestamp() * 1000)
        metrics = [
            Metric(f"{name}.{row['env'] or 'default'}", row[name], stamp, 0)
            for row in audit.summary()
            for name in ("parameters", "stale", "unreviewed_stale", "changed_in_quarter")
        ]
        params = [
            Param("quarter", audit.quarter.label),
            Param("as_of", audit.as_of.isoformat()),
            Param("threshold_days", str(audit.threshold.days)),
        ]
        client.log_batch(
            run_id, metrics=metrics, params=params, tags=[RunTag("cfgtrack.audit", "1")]
        )
        for path in files:
            client.log_artifact(run_id, str(path), ARTIFACT_FOLDER)
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id

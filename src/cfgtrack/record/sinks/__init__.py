"""Where a run record goes: the run's own folder of files, and MLflow."""

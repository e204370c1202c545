"""What a run records: git state, environment, data fingerprints (and the config)."""

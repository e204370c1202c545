"""Regenerate examples/data/train.csv, the example's small, deterministic dataset."""

from pathlib import Path

import numpy as np

ROWS, FEATURES = 1200, 8


def main() -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(ROWS, FEATURES))
    weights = rng.normal(size=FEATURES)
    labels = (features @ weights + rng.normal(scale=0.5, size=ROWS) > 0).astype(int)
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["label"])
    target = Path(__file__).parent / "data" / "train.csv"
    target.parent.mkdir(exist_ok=True)
    rows = np.column_stack([features.round(5), labels])
    np.savetxt(target, rows, delimiter=",", header=header, comments="", fmt="%.5f")


if __name__ == "__main__":
    main()

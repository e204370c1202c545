"""The example training job: a scikit-learn classifier on a shipped CSV, tracked by cfgtrack.

Run it from the project root:  python examples/train.py  [overrides, e.g. model=forest env=prod]
Sweep:                         python examples/train.py --multirun model=logreg,forest
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
from hydra.utils import to_absolute_path
from omegaconf import DictConfig
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import cfgtrack


def build_model(cfg: DictConfig, seed: int):
    if cfg.name == "logreg":
        return LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, tol=cfg.tol)
    if cfg.name == "forest":
        return RandomForestClassifier(
            n_estimators=cfg.n_estimators,
            max_depth=cfg.max_depth,
            min_samples_leaf=cfg.min_samples_leaf,
            random_state=seed,
        )
    raise ValueError(f"unknown model {cfg.name!r}")


@cfgtrack.track(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    table = np.loadtxt(to_absolute_path(cfg.data.path), delimiter=",", skiprows=1)
    rng = np.random.default_rng(cfg.seed)
    keep = rng.random(len(table)) < cfg.data.sample_fraction
    features, labels = table[keep, :-1], table[keep, -1].astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=cfg.train.test_size,
        shuffle=cfg.train.shuffle,
        random_state=cfg.seed,
    )
    model = build_model(cfg.model, cfg.seed).fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    if mlflow.active_run():
        mlflow.log_metric("accuracy", accuracy)
        # The model lands in the tracked run, so a registered version leads back to its config
        # (``cfgtrack diff models:/NAME@ALIAS prod``). Requirements are given and cloudpickle
        # used, which keeps logging to ~1 s (inferring them, or skops, takes seconds).
        mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )
    Path(cfg.output.model_path).write_text(json.dumps({"model": cfg.model.name}))
    print(f"accuracy={accuracy:.3f} model={cfg.model.name} rows={len(features)}")
    return accuracy


if __name__ == "__main__":
    main()

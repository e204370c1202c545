"""Register the model a tracked run of the example logged, and point an alias at the version.

    python examples/register_model.py [--run RUN_ID] [--name fraud] [--alias champion]

Without ``--run`` it takes the latest finished run of the example's experiment that logged a
model. The version then leads back to that run's record: ``cfgtrack diff models:/fraud@champion
prod`` shows how prod's config moved since the model was trained.
"""

from __future__ import annotations

import argparse
import logging

import mlflow
from mlflow.tracking import MlflowClient

EXPERIMENT = "cfgtrack-example"


def latest_run_with_model(client: MlflowClient) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise SystemExit(f"no experiment {EXPERIMENT!r}: run examples/train.py first")
    models = client.search_logged_models(
        [experiment.experiment_id], order_by=[{"field_name": "creation_time", "ascending": False}]
    )
    for model in models:
        if model.source_run_id:
            return model.source_run_id
    raise SystemExit("no run of the example logged a model: run examples/train.py first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="the run whose model to register (default: the latest)")
    parser.add_argument("--name", default="fraud", help="registered model name")
    parser.add_argument("--alias", default="champion", help="alias to point at the new version")
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    client = MlflowClient()
    run_id = args.run or latest_run_with_model(client)
    version = mlflow.register_model(f"runs:/{run_id}/model", args.name)
    client.set_registered_model_alias(args.name, args.alias, version.version)
    print(f"models:/{args.name}@{args.alias} is version {version.version}, trained in run {run_id}")


if __name__ == "__main__":
    main()

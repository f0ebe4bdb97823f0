"""The contract models against the planted truth, on the test part the training used.

Run in the project after `cvp generate --subscribers N --export-dir DIR`, `cvp ingest customers`
and `cvp train --label supplied` (README, "Contractual customers"):

    .venv/bin/python benchmarks/contract_quality.py land/subscribers_truth.csv

Prints the oracle AUC and the planted scale's concordance on the same stratified test rows, and
the champion's backtest metrics next to its baseline's."""

from __future__ import annotations

import sys

import pandas as pd
from sklearn.metrics import roc_auc_score

from cvp.config import get_settings
from cvp.contract.dataset import durations, labelled, load_snapshot
from cvp.contract.survival import concordance_index
from cvp.contract.train import split
from cvp.data.pseudonym import Pseudonymiser, load_key
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import tracking_client
from cvp.names import CONTRACT_CHURN_MODEL

METRICS = ("roc_auc", "pr_auc", "brier", "ece", "concordance")


def main(truth_path: str) -> None:
    settings = get_settings()
    with get_engine(settings.warehouse_url).connect() as conn:
        snapshot = load_snapshot(conn)
    frame, y = labelled(snapshot)
    test = split(frame, y, settings.contract, settings.training.seed)["test"]
    truth = pd.read_csv(truth_path, dtype={"customer_id": str})
    truth.index = Pseudonymiser(load_key(settings)).keys_for(truth["customer_id"]).to_numpy()
    rows = truth.loc[frame.index[test]]
    months, churned = durations(snapshot, frame)
    oracle = roc_auc_score(y[test], rows["oracle_churn_probability"])
    planted = concordance_index(months[test], churned[test], -rows["log_scale"].to_numpy())
    print(f"test rows {len(test)}: oracle roc_auc {oracle:.4f}, planted concordance {planted:.4f}")
    client = tracking_client(settings)
    version = client.get_model_version_by_alias(CONTRACT_CHURN_MODEL, "champion")
    assert version.run_id is not None
    metrics = client.get_run(version.run_id).data.metrics
    for name in METRICS:
        baseline = metrics.get(f"baseline_{name}")
        shown = "" if baseline is None else f"  baseline {baseline:.4f}"
        print(f"{name:<12} {metrics[name]:.4f}{shown}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "land/subscribers_truth.csv")

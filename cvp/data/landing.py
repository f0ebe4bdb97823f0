"""Landing files: the generated data written the way a source system would export it (source
ids, raw PII, its own column names), so the import path can be exercised end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cvp.data.synthetic import SyntheticDataset

# landing column name -> warehouse column, per table (what `cvp ingest --map` is given)
LANDING_RENAMES: dict[str, dict[str, str]] = {
    "customers": {"customer_ref": "customer_id"},
    "transactions": {"cust": "customer_id", "date": "ts", "dollars": "amount"},
}
MALFORMED_KINDS = ("bad_number", "bad_date", "missing_amount", "resent_duplicate")


def landing_mapping(table: str) -> dict[str, str]:
    """The `--map target=source` pairs for a landing file."""
    return {target: source for source, target in LANDING_RENAMES.get(table, {}).items()}


def export_landing(
    dataset: SyntheticDataset, directory: Path, malformed_rows: int = 0, seed: int = 0
) -> dict[str, Path]:
    """Write one CSV per table; optionally add rows whose values will not even parse."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for table, frame in dataset.tables.items():
        if table == "customer_identities":
            continue
        out = frame.rename(columns={"source_customer_id": "customer_id"})
        if table == "customers":
            out = out.merge(
                dataset.tables["customer_identities"].rename(
                    columns={"source_customer_id": "customer_id"}
                ),
                on="customer_id",
            )
        if table == "transactions" and malformed_rows:
            out = _with_malformed(out, malformed_rows, seed)
        inverse = {target: source for source, target in LANDING_RENAMES.get(table, {}).items()}
        out = out.rename(columns=inverse)
        path = directory / f"{table}.csv"
        out.to_csv(path, index=False)
        paths[table] = path
    return paths


def _with_malformed(frame: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    count = max(count, len(MALFORMED_KINDS))  # at least one row of each kind
    rng = np.random.default_rng(seed)
    bad = frame.iloc[rng.choice(len(frame), size=count, replace=False)].astype(object).copy()
    kinds = np.resize(np.array(MALFORMED_KINDS), count)
    bad.loc[kinds == "bad_number", "amount"] = "12,5O"
    bad.loc[kinds == "bad_date", "ts"] = "2025-02-31 25:61"
    bad.loc[kinds == "missing_amount", "amount"] = ""
    resent = kinds == "resent_duplicate"  # the same row sent twice keeps its id
    bad.loc[~resent, "transaction_id"] = [f"bad{i:06d}" for i in range((~resent).sum())]
    return pd.concat([frame.astype(object), bad], ignore_index=True)

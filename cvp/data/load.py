"""Loading a generated dataset: pseudonymise ids, split PII off, replace the synthetic tables."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.pseudonym import Pseudonymiser, PseudonymMap
from cvp.data.synthetic import SyntheticDataset
from cvp.data.warehouse import write_frame
from cvp.privacy.erasure import erased_ids

SOURCE_ID = "source_customer_id"


def pseudonymise_frame(
    frame: pd.DataFrame, pseudonymiser: Pseudonymiser | PseudonymMap
) -> pd.DataFrame:
    """Replace the source id column with the pseudonymous `customer_id` (an Arrow-backed string
    column, which the warehouse scans without converting it row by row)."""
    keys = pseudonymiser.keys_for(frame[SOURCE_ID])
    out = frame.drop(columns=SOURCE_ID)
    out.insert(0, "customer_id", keys)
    return out


def load_dataset(
    conn: Connection, dataset: SyntheticDataset, pseudonymiser: Pseudonymiser
) -> dict[str, int]:
    """Replace every raw and ground-truth table with the dataset, in the caller's transaction,
    so a re-run with the same seed leaves exactly the same rows."""
    for name in (*schema.RAW_TABLES, *schema.GROUND_TRUTH_TABLES, "quarantine"):
        conn.execute(sa.delete(schema.metadata.tables[name]))
    counts: dict[str, int] = {}
    # the same seed must leave the same rows, `loaded_at` included (the data fingerprint reads
    # it): a synthetic master counts as exported at the end of its own history
    loaded_at = pd.Timestamp(dataset.tables["transactions"]["ts"].max()).floor("s")
    erased = erased_ids(conn)  # tombstones survive a reload: erased customers stay erased
    # every distinct source id is hashed once for the whole load, then looked up per table
    mapping = pseudonymiser.mapping_for(
        [*(frame[SOURCE_ID] for frame in dataset.tables.values()), dataset.ground_truth[SOURCE_ID]]
    )
    for name, frame in dataset.tables.items():
        source = frame[SOURCE_ID]
        frame = pseudonymise_frame(frame, mapping)
        keep = ~frame["customer_id"].isin(erased).to_numpy()
        if not keep.all():  # the common case (nobody erased) copies no table
            frame, source = frame.loc[keep], source.loc[keep]
        if name == "customer_identities":
            frame[SOURCE_ID] = source.to_numpy()
        if name == "customers":
            frame["origin"] = "master"
            frame["loaded_at"] = loaded_at
        counts[name] = write_frame(conn, schema.metadata.tables[name], frame)
    truth = pseudonymise_frame(dataset.ground_truth, mapping)
    write_frame(conn, schema.ground_truth_customers, truth[~truth["customer_id"].isin(erased)])
    write_frame(conn, schema.ground_truth_injected_errors, dataset.injected_errors)
    return counts

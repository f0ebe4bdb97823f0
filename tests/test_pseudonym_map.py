"""The load hashes every distinct id once and looks the keys up in Arrow: the pseudonyms must stay
byte-identical to the per-id HMAC ones, or a reload would orphan every stored key."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.data.load import load_dataset
from cvp.data.migrate import upgrade_warehouse
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.synthetic import GeneratorConfig, generate
from cvp.data.warehouse import dispose_engines, get_engine

# computed with the code before the change (hmac.new(...).hexdigest(), one id at a time)
GOLDEN = {
    "C00000001": "c_27d29dab072092be088728de",
    "C00000002": "c_d8a2133d9fd6b5c7c4c4ba2c",
    "X00000001": "c_df87e9cd0106260c8d94f3d7",
    "0007-ABCDE": "c_a31c55c6a45192261cbdd444",
    "émile": "c_0d22abacb1587ddce8e6021e",
}


def _reference(key: bytes, source_id: str) -> str:
    return "c_" + hmac.new(key, source_id.encode(), hashlib.sha256).hexdigest()[:24]


def test_keys_match_the_pseudonyms_issued_before():
    pseudo = Pseudonymiser(b"golden-key")
    assert {s: pseudo.key_for(s) for s in GOLDEN} == GOLDEN
    keys = pseudo.keys_for(pd.Series([*GOLDEN, None], index=range(10, 16)))
    assert keys.tolist()[:-1] == list(GOLDEN.values())
    assert pd.isna(keys.iloc[-1])
    assert list(keys.index) == list(range(10, 16))


def test_one_map_serves_every_table_with_the_same_keys():
    pseudo = Pseudonymiser(b"k")
    a = pd.Series(["C1", "C2", "C3"])
    b = pd.Series(["C3", None, "C1", "C1"], index=[7, 8, 9, 10])
    mapping = pseudo.mapping_for([a, b])
    assert len(mapping) == 3  # each distinct id hashed once
    keys = mapping.keys_for(b)
    assert keys.iloc[0] == _reference(b"k", "C3") == pseudo.key_for("C3")
    assert pd.isna(keys.iloc[1])
    assert keys.iloc[2] == keys.iloc[3] == _reference(b"k", "C1")
    assert list(keys.index) == [7, 8, 9, 10]
    with pytest.raises(KeyError):
        mapping.keys_for(pd.Series(["C4"]))


def test_load_writes_per_id_hmac_keys_and_a_rerun_adds_nothing(tmp_path):
    key = b"load-key"
    dataset = generate(GeneratorConfig(customers=300, seed=5, inject_errors=True))
    engine = get_engine(f"duckdb:///{tmp_path}/w.duckdb")
    try:
        upgrade_warehouse(engine)
        with engine.begin() as conn:
            first = load_dataset(conn, dataset, Pseudonymiser(key))
        with engine.begin() as conn:
            second = load_dataset(conn, dataset, Pseudonymiser(key))
            identities = pd.DataFrame(
                conn.execute(
                    sa.text("SELECT customer_id, source_customer_id FROM customer_identities")
                ).fetchall()
            )
            tx_keys = set(
                conn.execute(sa.text("SELECT DISTINCT customer_id FROM transactions")).scalars()
            )
            tx_rows = conn.execute(sa.text("SELECT COUNT(*) FROM transactions")).scalar_one()
    finally:
        dispose_engines()
    assert first == second  # idempotent: the same rows, counts reconcile
    assert tx_rows == len(dataset.tables["transactions"]) == first["transactions"]
    assert len(identities) == 300
    expected = [_reference(key, s) for s in identities["source_customer_id"]]
    assert identities["customer_id"].tolist() == expected
    # orphans planted by error injection get keys too, the same HMAC
    sources = set(dataset.tables["transactions"]["source_customer_id"])
    assert tx_keys == {_reference(key, s) for s in sources}

from pathlib import Path

import pandas as pd
import pytest

from cvp.config import Settings
from cvp.data.pseudonym import MissingPseudonymKey, Pseudonymiser, ensure_key_file, load_key


def test_keys_are_stable_and_depend_on_the_secret():
    a, b = Pseudonymiser(b"one"), Pseudonymiser(b"two")
    assert a.key_for("C1") == a.key_for("C1")
    assert a.key_for("C1") != a.key_for("C2")
    assert a.key_for("C1") != b.key_for("C1")
    assert "C1" not in a.key_for("C1")


def test_vectorised_keys_match_scalar_and_keep_missing():
    p = Pseudonymiser(b"k")
    keys = p.keys_for(pd.Series(["C1", None, "C2", "C1"]))
    assert keys.iloc[0] == p.key_for("C1") == keys.iloc[3]
    assert pd.isna(keys.iloc[1])
    assert keys.iloc[2] == p.key_for("C2")


def test_key_file_created_private_and_missing_key_is_explained(tmp_path: Path):
    settings = Settings(pseudonym_key_file=tmp_path / "k" / "key", pseudonym_key=None)
    with pytest.raises(MissingPseudonymKey, match="cvp init"):
        load_key(settings)
    assert ensure_key_file(settings.pseudonym_key_file)
    assert not ensure_key_file(settings.pseudonym_key_file)
    assert oct(settings.pseudonym_key_file.stat().st_mode & 0o777) == "0o600"
    assert len(load_key(settings)) == 64

"""Keyed pseudonymisation: the same source id always maps to the same key, and without the
secret key nobody can recompute or reverse the mapping (unlike a plain hash of an email)."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cvp.config import Settings

KEY_PREFIX = "c_"
DIGEST_CHARS = 24


class MissingPseudonymKey(RuntimeError):
    pass


def ensure_key_file(path: Path) -> bool:
    """Create a random key file readable only by its owner; returns True if it was created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return True


def load_key(settings: Settings) -> bytes:
    """The key comes from CVP_PSEUDONYM_KEY or the key file, never from the repository."""
    if settings.pseudonym_key:
        return settings.pseudonym_key.encode()
    if settings.pseudonym_key_file.exists():
        return settings.pseudonym_key_file.read_text().strip().encode()
    raise MissingPseudonymKey(
        f"No pseudonymisation key: set CVP_PSEUDONYM_KEY or run `cvp init` to create "
        f"{settings.pseudonym_key_file}"
    )


class Pseudonymiser:
    """Maps source customer ids to stable pseudonymous keys with HMAC-SHA256."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def key_for(self, source_id: str) -> str:
        return self._hash(str(source_id))

    def _hash(self, source_id: str) -> str:
        # hmac.digest is OpenSSL's one-shot HMAC: the same bytes as hmac.new(...).hexdigest(),
        # about twice as fast, which matters at a million ids per load
        digest = hmac.digest(self._key, source_id.encode(), "sha256")
        return KEY_PREFIX + digest.hex()[:DIGEST_CHARS]

    def mapping_for(self, columns: Iterable[Iterable[str] | pd.Series]) -> PseudonymMap:
        """Hash every distinct id of all the columns once, so a load that sees the same customer
        in ten tables pays one HMAC per customer, not one per table."""
        arrays = [_arrow_strings(column) for column in columns]
        sources = pc.unique(pa.chunked_array(arrays, type=pa.large_string())).drop_null()
        keys = pa.array([self._hash(s) for s in sources.to_pylist()], type=pa.large_string())
        return PseudonymMap(sources, keys)

    def keys_for(self, source_ids: Iterable[str] | pd.Series) -> pd.Series:
        """Vectorised over unique values, so a million-row column costs one HMAC per customer."""
        series = pd.Series(source_ids)
        mapping = self.mapping_for([series])
        return pd.Series(
            mapping.arrow_keys_for(series), index=series.index, dtype=pd.StringDtype("pyarrow")
        )


class PseudonymMap:
    """Distinct source ids and their keys, hashed once and looked up column by column in Arrow
    (a hash lookup per row instead of a Python HMAC per row)."""

    def __init__(self, sources: pa.Array, keys: pa.Array) -> None:
        self._sources = sources
        self._keys = keys

    def __len__(self) -> int:
        return len(self._sources)

    def arrow_keys_for(self, source_ids: Iterable[str] | pd.Series) -> pa.Array:
        """The key of every id (null where the id is null); an id the map was not built from
        is an error, never a silent null."""
        values = _arrow_strings(source_ids)
        positions = pc.index_in(values, value_set=self._sources)
        if positions.null_count != values.null_count:
            raise KeyError("source ids outside the pseudonym map")
        return self._keys.take(positions)

    def keys_for(self, source_ids: Iterable[str] | pd.Series) -> pd.Series:
        """`Pseudonymiser.keys_for`'s result, from the map."""
        series = pd.Series(source_ids)
        return pd.Series(
            self.arrow_keys_for(series), index=series.index, dtype=pd.StringDtype("pyarrow")
        )


def _arrow_strings(values: Iterable[str] | pd.Series) -> pa.Array:
    """Ids as one Arrow string array, converted the way `str()` would (pandas' string cast);
    Arrow-backed string columns pass through without a copy."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("string")
    array = pa.array(series.array, type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array

"""Keyed pseudonymisation: the same source id always maps to the same key, and without the
secret key nobody can recompute or reverse the mapping (unlike a plain hash of an email)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

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
        digest = hmac.new(self._key, str(source_id).encode(), hashlib.sha256).hexdigest()
        return KEY_PREFIX + digest[:DIGEST_CHARS]

    def keys_for(self, source_ids: Iterable[str] | pd.Series) -> pd.Series:
        """Vectorised over unique values, so a million-row column costs one HMAC per customer."""
        series = pd.Series(source_ids).astype("string")
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        mapped = np.array([self.key_for(u) for u in uniques], dtype=object)
        result = np.full(len(series), None, dtype=object)
        valid = codes >= 0
        result[valid] = mapped[codes[valid]]
        return pd.Series(result, index=series.index, dtype="string")

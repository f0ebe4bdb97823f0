"""Stable hash partitions of the customers, the same in SQL and in pandas.

A pseudonymous id is `c_` + a keyed hash in hex, so its first hex digits are uniformly spread and
never change for a customer: partition `k` of `n` holds the ids whose first `PREFIX_DIGITS` hex
digits, read as a number, fall in the k-th of n equal ranges. In SQL that is a range of the id
itself (`'c_4000' <= customer_id < 'c_8000'`): no hash function of the database is needed
(DuckDB's and PostgreSQL's differ), both order such strings alike (digits before lowercase
letters, in the C and in the usual language collations), and an index or a table partitioned on
`customer_id` can serve the range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from cvp.data.pseudonym import KEY_PREFIX

PREFIX_DIGITS = 4
SPACE = 16**PREFIX_DIGITS


@dataclass(frozen=True)
class Partition:
    """Partition `index` of `count`; its id prefixes are [lower, upper) as hex strings."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count}")

    @property
    def lower(self) -> str | None:
        return None if self.index == 0 else _hex(_start(self.index, self.count))

    @property
    def upper(self) -> str | None:
        last = self.index == self.count - 1
        return None if last else _hex(_start(self.index + 1, self.count))

    def predicate(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """SQL: the customer id in `column` belongs to this partition."""
        conditions = []
        if self.lower is not None:
            conditions.append(column >= KEY_PREFIX + self.lower)
        if self.upper is not None:
            conditions.append(column < KEY_PREFIX + self.upper)
        return sa.and_(sa.true(), *conditions)


def _start(index: int, count: int) -> int:
    """The smallest prefix value v with floor(v * count / SPACE) == index."""
    return -(-index * SPACE // count)


def _hex(value: int) -> str:
    return format(value, f"0{PREFIX_DIGITS}x")


def all_partitions(count: int) -> list[Partition]:
    return [Partition(index, count) for index in range(count)]


def partition_index(customer_ids: pd.Series, count: int) -> np.ndarray:
    """The partition of each id, by the same rule as `Partition.predicate`."""
    start = len(KEY_PREFIX)
    prefixes = customer_ids.astype("string").str.slice(start, start + PREFIX_DIGITS)
    values = prefixes.map(lambda p: int(p, 16)).to_numpy(dtype=np.int64)
    return (values * count) // SPACE


def restrict(statement: sa.Select, tables: list[sa.Table], partition: Partition) -> sa.Select:
    """`statement` with every reference to `tables` replaced by that table's rows of one
    partition, so each grouped subquery aggregates only the partition's customers (a filter on
    the outer join alone would make every partition aggregate every customer)."""
    for table in tables:
        rows = (
            sa.select(table)
            .where(partition.predicate(table.c.customer_id))
            .subquery(f"{table.name}_part")
        )
        statement = ClauseAdapter(rows).traverse(statement)
    return statement

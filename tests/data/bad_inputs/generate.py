"""Writes the bad-input corpus next to this script; `cases.yaml` says what each file must do.

Run `python tests/data/bad_inputs/generate.py` after changing it; the files are committed, so the
corpus test does not depend on this script (directories are made by the test itself).
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
GOOD = "customer_id,ts,amount\nA1,2025-01-03,10.50\nA2,2025-01-04,20\nA3,2025-01-05 10:30,5.25\n"


def text(name: str, content: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(content.encode(encoding))


def parquet(name: str, table: pa.Table) -> None:
    pq.write_table(table, HERE / name)


def main() -> None:
    # empty and structural
    text("empty.csv", "")
    text("blank_lines.csv", "\n  \n\n")
    text("header_only.csv", "customer_id,ts,amount\n")
    text("header_only_semicolon.csv", "customer_id;ts;amount\r\n")
    text("good.csv", GOOD)
    text("missing_amount_column.csv", "customer_id,ts\nA1,2025-01-03\n")
    text("ragged.csv", "customer_id,ts,amount\nA1,2025-01-03,1\nA2,2025-01-04,1,extra,more\n")
    text("headerless.csv", "H1,2025-01-03,10.5\nH2,2025-01-04,11\nH2,2025-01-09,x\n")
    text("chanel_typo.csv", "customer_id,ts,amount,chanel\nT1,2025-01-03,10,web\n")
    (HERE / "spreadsheet.csv").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    text("log.json", '[{"customer_id": "A1", "ts": "2025-01-03", "amount": 1}]')
    # encodings
    latin = "customer_id;ts;amount;category\nL1;2025-01-03;10.5;épicerie\nL2;2025-01-04;3;café\n"
    text("latin1.csv", latin, "latin-1")
    text("utf16_bom.csv", GOOD.replace("A", "U"), "utf-16")  # Python writes the BOM
    text("utf16_no_bom.csv", GOOD.replace("A", "W"), "utf-16-le")
    text("utf8_bom.csv", "\ufeff" + GOOD.replace("A", "B"))
    # separators
    text("semicolon.csv", GOOD.replace(",", ";").replace("A", "S"))
    text("tab.tsv", GOOD.replace(",", "\t").replace("A", "T"))
    text("tab_named.txt", GOOD.replace(",", "\t").replace("A", "X"))
    text("pipe.txt", GOOD.replace(",", "|").replace("A", "P"))
    # decimal and thousands marks
    text(
        "decimal_comma_semicolon.csv",
        "customer_id;ts;amount\nD1;2025-01-03;1.234,56\nD2;2025-01-04;12,5\n"
        "D3;2025-01-05;7\nD4;2025-01-06;12.5\n",
    )
    text(
        "thousands_comma_quoted.csv",
        'customer_id,ts,amount\nK1,2025-01-03,"1,234.50"\nK2,2025-01-04,99.9\n'
        'K3,2025-01-05,"12,5"\n',
    )
    text("decimal_comma_unquoted.csv", "customer_id,ts,amount\nQ1,2025-01-03,12,5\n")
    # amounts
    text(
        "nan_inf_amounts.csv",
        "customer_id,ts,amount\nN1,2025-01-03,NaN\nN2,2025-01-03,inf\nN3,2025-01-03,-inf\n"
        "N4,2025-01-03,Infinity\nN5,2025-01-03,1e400\nN6,2025-01-03,12\n",
    )
    text(
        "huge_amounts.csv",
        "customer_id,ts,amount\nG1,2025-01-03,1e12\nG2,2025-01-03,99999999\n"
        "G3,2025-01-03,100000\nG4,2025-01-03,-250000\n",
    )
    text(
        "negative_amounts.csv",
        "customer_id,ts,amount,is_refund\nR1,2025-01-03,-10,false\nR2,2025-01-03,-10,true\n"
        "R3,2025-01-04,-0.01,\nR4,2025-01-05,30,no\n",
    )
    # dates
    text(
        "ambiguous_dates.csv",
        "customer_id,ts,amount\nM1,01/02/2024,10\nM2,13/01/2024,11\nM3,03/04/2024,12\n",
    )
    text(
        "mixed_day_month_order.csv",
        "customer_id,ts,amount\nO1,13/01/2024,10\nO2,01/13/2024,11\n",
    )
    text(
        "day_first_dates.csv",
        "customer_id,ts,amount\nF1,13/01/2024,10\nF2,25.12.2024 08:30,11\nF3,31/05/2024,12\n",
    )
    text("two_digit_years.csv", "customer_id,ts,amount\nY1,13/01/24,10\n")
    text(
        "future_timestamps.csv",
        "customer_id,ts,amount\nZ1,2999-01-01,10\nZ2,9999-12-31 23:59:59,10\nZ3,2025-06-01,10\n",
    )
    text(
        "ancient_timestamps.csv",
        "customer_id,ts,amount\nE1,1899-12-31,10\nE2,0001-01-01,10\nE3,1989-12-31,10\n"
        "E4,1990-01-01,10\n",
    )
    text(
        "yyyymmdd_dates.csv",
        "customer_id,ts,amount\n00042,19970101,10\n00042,19970102,11\n42,19971231,12\n"
        "00043,19971340,13\n",
    )
    text("bad_dates.csv", "customer_id,ts,amount\nC1,2025-02-31,10\nC2,yesterday,10\nC3,5,1\n")
    # duplicates and ids
    text(
        "duplicate_ids.csv",
        "transaction_id,customer_id,ts,amount\nt1,I1,2025-01-03,10\nt2,I1,2025-01-03,10\n"
        "t1,I2,2025-01-04,11\n",
    )
    text(
        "bare_log_repeats.csv",
        "customer_id,ts,amount\nV1,2025-01-03,10\nV1,2025-01-03,10\nV1,2025-01-03,10\n"
        "V2,2025-01-04,5\nV2,2025-01-04,5\n",
    )
    text(
        "master.csv",
        "customer_ref,name,email,country\n007,Ada Lovelace,ada@example.com,GB\n"
        "7,Alan Turing,alan@example.com,GB\nAb7,Grace Hopper,grace@example.com,US\n"
        "aB7,Edsger Dijkstra,edsger@example.com,NL\n",
    )
    text(
        "unknown_ids.csv",
        "customer_id,ts,amount\n007,2025-01-03,10\n0007,2025-01-03,10\nab7,2025-01-03,10\n"
        "aB7,2025-01-04,10\n",
    )
    # strings
    long_id = "X" * 300
    text(
        "overlong_strings.csv",
        "customer_id,ts,amount,category\n"
        f"{long_id},2025-01-03,10,grocery\nJ1,2025-01-03,10,{'c' * 200}\nJ2,2025-01-03,10,home\n",
    )
    text(
        "sql_looking_strings.csv",
        "customer_id,ts,amount,category,channel\n"
        '"1\'; DROP TABLE customers; --",2025-01-03,10,"\'; DELETE FROM t;--",web\n'
        'Robert,2025-01-04,11,"x"" OR 1=1 --",[/red][b]not-a-channel\n'
        'J3,2025-01-05,12,"\' UNION SELECT * FROM customer_identities --",app\n',
    )
    # consent and surveys
    text(
        "consent_purposes.csv",
        "customer_id,purpose,granted,ts\nP1,marketing,true,2025-01-03\nP1,spam,true,2025-01-03\n"
        "P2,profiling,maybe,2025-01-03\nP2,analytics,no,2025-01-03\n",
    )
    text(
        "survey_ranges.csv",
        "customer_id,ts,nps,csat\nS1,2025-01-03,11,3\nS2,2025-01-03,7,0\nS3,2025-01-03,7.5,4\n"
        "S4,2025-01-03,99999999999999999999,4\nS5,2025-01-03,9,5\n",
    )
    _parquet_files()


def _parquet_files() -> None:
    good = pa.table(
        {
            "customer_id": ["Q1", "Q2"],
            "ts": pa.array(pd.to_datetime(["2025-01-03", "2025-01-04"])),
            "amount": [1.5, 2.5],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(good, buffer)
    data = buffer.getvalue()
    (HERE / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (HERE / "corrupt.parquet").write_bytes(b"PAR1" + bytes(range(200)) + b"PAR1")
    (HERE / "csv_named.parquet").write_bytes(GOOD.encode())
    parquet("no_rows.parquet", good.slice(0, 0))
    parquet(
        "yyyymmdd_int.parquet",
        pa.table(
            {
                "customer_id": ["00123", "00123", "123"],
                "ts": pa.array([19970101, 19970102, 19970103], type=pa.int64()),
                "amount": [10.0, 11.0, 12.0],
            }
        ),
    )
    parquet(
        "int_ids.parquet",
        pa.table(
            {
                "customer_id": pa.array([123, 456, None], type=pa.int64()),
                "ts": pa.array(pd.to_datetime(["2025-01-03", "2025-01-04", "2025-01-05"])),
                "amount": pa.array([10, 11, 12], type=pa.int32()),
            }
        ),
    )
    parquet(
        "wrong_types.parquet",
        pa.table(
            {
                "customer_id": ["W1", "W2", "W3", "W4"],
                "ts": pa.array([1735689600, 20250103, 1, 20250104], type=pa.int64()),
                "amount": ["10.5", "abc", "", "7"],
            }
        ),
    )
    parquet(
        "bool_amounts.parquet",
        pa.table(
            {
                "customer_id": ["B1", "B2"],
                "ts": ["2025-01-03", "2025-01-04"],
                "amount": pa.array([True, False]),
            }
        ),
    )
    parquet(
        "nested_amounts.parquet",
        pa.table(
            {
                "customer_id": ["L1"],
                "ts": ["2025-01-03"],
                "amount": pa.array([[1.0, 2.0]], type=pa.list_(pa.float64())),
            }
        ),
    )
    parquet(
        "nul_strings.parquet",
        pa.table(
            {
                "customer_id": ["Z\x001", "Z2", "Z3"],  # row 1 id, row 2 category
                "ts": ["2025-01-03", "2025-01-04", "2025-01-05"],
                "amount": [1.0, 2.0, 3.0],
                "category": ["grocery", "ho\x00me", "home"],
            }
        ),
    )
    parquet(
        "tz_timestamps.parquet",
        pa.table(
            {
                "customer_id": ["Y1", "Y2"],
                "ts": pa.array(
                    pd.to_datetime(["2025-01-03 10:00", "2025-01-04 23:30"]).tz_localize(
                        "Europe/Paris"
                    )
                ),
                "amount": pa.array([Decimal("1.25"), Decimal("2.50")], type=pa.decimal128(10, 2)),
            }
        ),
    )


if __name__ == "__main__":
    main()

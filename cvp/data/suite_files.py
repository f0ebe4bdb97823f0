"""The committed, declarative form of the data rules: `expectations/suites/<table>.json`.

One file per table: the expectations its Great Expectations suite runs (type, arguments with
`$setting`/`$run` placeholders, severity, whether the rule also quarantines at import, reason),
then the checks applied at import only. A reviewer reads and diffs these instead of code.
`python -m cvp.data.suite_files --write` rewrites them from `cvp/data/rules.py`; without
`--write` it exits 1 when they are stale (a test does the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cvp.data.rules import RULES, rules_for

SUITES_DIR = Path("expectations") / "suites"


def suite_document(table: str) -> dict[str, Any]:
    """The declarative form of one table's rules: the suite GX runs, then import-only checks."""
    rules = rules_for(table)
    return {
        "suite": f"{table}_suite",
        "table": table,
        "generated_from": "cvp/data/rules.py (python -m cvp.data.suite_files --write)",
        "placeholders": {
            "$setting": "a key of cvp.toml, read when the suite is built",
            "$run": "a value of the run: as_of_end (end of the run date; now at import), "
            "freshness_floor, expected_rows",
        },
        "expectations": [r.declaration() for r in rules if r.severity is not None],
        "import_only_checks": [r.declaration() for r in rules if r.severity is None],
    }


def suite_documents() -> dict[str, str]:
    """File name -> JSON text, for every table with rules."""
    tables = dict.fromkeys(r.table for r in RULES)
    return {
        f"{table}.json": json.dumps(suite_document(table), indent=2, default=str) + "\n"
        for table in tables
    }


def stale_suite_files(directory: Path = SUITES_DIR) -> list[str]:
    """Names of committed suite files that differ from the rules (missing or extra included)."""
    wanted = suite_documents()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    stale = [
        name
        for name, text in wanted.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    return sorted(stale + [name for name in present if name not in wanted])


def write_suite_documents(directory: Path = SUITES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = suite_documents()
    for stray in directory.glob("*.json"):
        if stray.name not in wanted:
            stray.unlink()
    paths = []
    for name, text in wanted.items():
        path = directory / name
        path.write_text(text)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the suite files")
    parser.add_argument("--dir", type=Path, default=SUITES_DIR)
    args = parser.parse_args(argv)
    if args.write:
        for path in write_suite_documents(args.dir):
            print(path)
        return 0
    stale = stale_suite_files(args.dir)
    for name in stale:
        print(f"{args.dir / name} is not current; run: python -m cvp.data.suite_files --write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate the README's screenshot of the report (`docs/img/report.png`).

Renders a report page in headless Chromium with networking disabled (every request to a closed
port, every host name unresolvable), so the picture also shows the page works offline.
Needs `chromium` (Debian: apt-get install chromium). Usage, after `make demo`:

    .venv/bin/cvp report --as-of 2025-12-31 --out reports/report-2025-12-31.html
    .venv/bin/python scripts/report_screenshot.py reports/report-2025-12-31.html
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

WIDTH = 1400


def screenshot(page: Path, out: Path, height: int, scale_to: int) -> Path:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("no chromium on PATH: apt-get install -y chromium")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        raw = Path(profile) / "page.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                f"--window-size={WIDTH},{height}",
                f"--screenshot={raw}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        image = Image.open(raw)
        if scale_to < WIDTH:
            image = image.resize((scale_to, round(height * scale_to / WIDTH)), Image.LANCZOS)
        image.save(out, optimize=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="a report written by `cvp report`")
    parser.add_argument("--out", type=Path, default=Path("docs/img/report.png"))
    parser.add_argument("--height", type=int, default=2000, help="pixels of the page shown")
    parser.add_argument("--width", type=int, default=1100, help="width of the saved picture")
    args = parser.parse_args()
    print(f"screenshot: {screenshot(args.page, args.out, args.height, args.width)}")


if __name__ == "__main__":
    main()

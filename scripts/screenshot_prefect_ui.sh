#!/usr/bin/env bash
# Screenshot the Prefect UI's custom-run form of the backfill deployment (the form a data engineer
# fills in for a backfill) in headless Chromium. Needs a running server with the deployments applied
# (`cvp server up && cvp deploy`) and `chromium` (Debian: apt-get install chromium).
# Usage: scripts/screenshot_prefect_ui.sh [api-url] [out.png]
set -euo pipefail
api="${1:-${PREFECT_API_URL:-http://127.0.0.1:4200/api}}"
out="${2:-screenshots/prefect_backfill_form.png}"
ui="${api%/api}"
id="$(curl -fsS "$api/deployments/name/backfill/backfill" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
mkdir -p "$(dirname "$out")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
# the UI is a single-page app: give its JavaScript virtual time to fetch the schema and render
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --virtual-time-budget=20000 --window-size=1400,1900 \
  --screenshot="$out" "$ui/deployments/deployment/$id/run" 2>/dev/null
echo "screenshot of $ui/deployments/deployment/$id/run: $out"

#!/usr/bin/env bash
# Screenshot the offline validation summary page in headless Chromium with networking disabled,
# to check it renders with its styling and no CDN. Needs `chromium` (Debian: apt-get install chromium).
# Usage: scripts/screenshot_data_docs.sh [page.html] [out.png]
set -euo pipefail
page="$(realpath "${1:-expectations/data_docs/index.html}")"
out="${2:-screenshots/data_docs.png}"
mkdir -p "$(dirname "$out")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --proxy-server='http://127.0.0.1:9' --proxy-bypass-list='<-loopback>' \
  --window-size=1280,1800 --screenshot="$out" "file://$page" 2>/dev/null
echo "screenshot: $out"

#!/usr/bin/env bash
# Runs the console's end-to-end tests: builds the service, starts
# `cascade serve --demo` on a temporary SQLite file and a free port, runs the
# tests in Chromium against it, and stops it. Needs Node (npm ci done in
# web/e2e) and Chromium (CHROMIUM, default /usr/bin/chromium).
# CASCADE_SCREENSHOTS=DIR writes the screenshots there (docs/console to
# refresh the README's).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${CASCADE_SCREENSHOTS:-}" ]; then
  mkdir -p "$CASCADE_SCREENSHOTS"
  CASCADE_SCREENSHOTS=$(cd "$CASCADE_SCREENSHOTS" && pwd)/
  export CASCADE_SCREENSHOTS
fi
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/cascade" ./cmd/cascade
"$tmp/cascade" serve --demo --db "$tmp/e2e.db" --addr 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Cascade .* listening on \(http:[^ ]*\)$/\1/p' "$tmp/serve.out" | head -1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.err"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "the server did not start"; cat "$tmp/serve.err"; exit 1; }
echo "console e2e against $url"
cd web/e2e
CASCADE_URL="$url" node --test --test-concurrency=1 console.test.mjs console2.test.mjs live.test.mjs

#!/usr/bin/env bash
# Runs test suites while a steady background load runs beside them, and
# tallies how often each test failed. The load is target/debug/busy (see
# tests/src/bin/busy.rs): a second server with warm pools serving a stream
# of runs. `make test-busy` builds what it needs and calls this.
#
#   ROUNDS   how many times each suite runs (default 3)
#   SUITES   which of e2e, e2e-guard, e2e-gvisor, browser (default all)
#   BUSY_CONCURRENCY, BUSY_PAUSE_MS, BUSY_HOGS   the load (see busy.rs)
# Logs go to target/busy/ (in CARGO_TARGET_DIR when set); the summary is
# printed and kept there as summary.md. Exits non-zero when any suite
# failed in any round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
suites=${SUITES:-e2e e2e-guard e2e-gvisor browser}
target=${CARGO_TARGET_DIR:-target}
logs=$target/busy
rm -rf "$logs"
mkdir -p "$logs"

ready="$logs/ready"
BUSY_READY="$ready" "$target/debug/busy" >"$logs/busy.log" 2>&1 &
busy=$!
trap 'kill -TERM $busy 2>/dev/null || true; wait $busy 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ -f "$ready" ] && break
  kill -0 $busy 2>/dev/null || { cat "$logs/busy.log"; echo "the background load did not start" >&2; exit 1; }
  sleep 1
done
[ -f "$ready" ] || { echo "the background load was not ready after 5 minutes" >&2; exit 1; }
head -n 1 "$logs/busy.log"

summary="$logs/summary.md"
{
  echo "| round | suite | result | tests | minutes | load average at the end |"
  echo "| ---: | --- | --- | ---: | ---: | --- |"
} >"$summary"
failed=0
for round in $(seq 1 "$rounds"); do
  for suite in $suites; do
    log="$logs/round$round-$suite.log"
    start=$(date +%s)
    if make --no-print-directory "test-$suite" >"$log" 2>&1; then result=passed; else result=FAILED; failed=1; fi
    minutes=$(awk -v s="$(( $(date +%s) - start ))" 'BEGIN { printf "%.1f", s / 60 }')
    tests=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | tail -n 1 | sed 's/^test result: //')
    line="| $round | $suite | $result | ${tests:-?} | $minutes | $(cut -d' ' -f1-3 /proc/loadavg) |"
    echo "$line" | tee -a "$summary"
  done
done

echo
echo "Failures per test (all rounds):" | tee -a "$summary"
grep -h -E '^test .* \.\.\. FAILED$' "$logs"/round*.log | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' \
  | sort | uniq -c | sort -rn | sed 's/^/  /' | tee -a "$summary" || true
grep -q -h -E '^test .* \.\.\. FAILED$' "$logs"/round*.log || echo "  none" | tee -a "$summary"

kill -TERM $busy
wait $busy || true
trap - EXIT
echo "The background load:" | tee -a "$summary"
tail -n 1 "$logs/busy.log" | tee -a "$summary"
exit $failed

#!/usr/bin/env bash
# Prefix affinity against round robin (and any other policy) through
# `surge route` over three local `surge serve` replicas, on a shared-prefix
# chat workload from `surge bench`: K system prompts, many users each.
# Every policy gets fresh replicas (cold caches). Prints, per policy, the
# replicas' prefix-cache hit rate (from their /metrics:
# vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total, summed) and
# the TTFT figures of `surge bench`; raw JSON, the router's routing counters
# and the logs stay in $OUT.
#
#   bench/compare/route_prefix_bench.sh            # release build, defaults below
#   SURGE=build/x/tools/surge/surge POLICIES="round-robin prefix p2c" bench/compare/route_prefix_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

SURGE=${SURGE:-build/release/tools/surge/surge}
MODEL=${MODEL:-models/tiny-llama-q8_0.gguf}
OUT=${OUT:-/tmp/surge_route_prefix_bench}
POLICIES=${POLICIES:-"round-robin prefix"}
REQUESTS=${REQUESTS:-192}
CONCURRENCY=${CONCURRENCY:-12}
PREFIX_TOKENS=${PREFIX_TOKENS:-320}
NUM_PREFIXES=${NUM_PREFIXES:-8}
PROMPT_TOKENS=${PROMPT_TOKENS:-48}
MAX_TOKENS=${MAX_TOKENS:-16}
KV_CACHE_BYTES=${KV_CACHE_BYTES:-16777216}  # per replica: room for ~3 of the 8 system prompts
THREADS=${THREADS:-1}                       # compute threads per replica

mkdir -p "$OUT" "$(dirname "$MODEL")"
[ -f "$MODEL" ] || "$SURGE" model init --arch llama --preset tiny --type q8_0 -o "$MODEL"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port_file() {
  for _ in $(seq 1 600); do
    if [ -s "$1" ] && [ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ]; then cat "$1"; return; fi
    sleep 0.05
  done
  echo "timed out waiting for $1" >&2; exit 1
}

metric_sum() {  # name port...
  local name=$1; shift
  for p in "$@"; do curl -s "http://127.0.0.1:$p/metrics"; done |
    awk -v n="$name" '$1 == n { s += $2 } END { printf "%.0f", s }'
}

printf '%-12s %10s %10s %12s %12s %12s %10s\n' policy hit_rate hit_tokens ttft_mean_ms ttft_p50_ms ttft_p99_ms errors
for policy in $POLICIES; do
  rm -f "$OUT"/*.port
  ports=()
  for i in 0 1 2; do
    "$SURGE" serve -m "$MODEL" --port 0 --port-file "$OUT/r$i.port" --threads "$THREADS" \
      --kv-cache-bytes "$KV_CACHE_BYTES" 2> "$OUT/replica$i-$policy.log" &
    pids+=($!)
  done
  for i in 0 1 2; do ports+=("$(wait_port_file "$OUT/r$i.port")"); done
  "$SURGE" route --port 0 --port-file "$OUT/router.port" --policy "$policy" \
    --replica "http://127.0.0.1:${ports[0]}" --replica "http://127.0.0.1:${ports[1]}" \
    --replica "http://127.0.0.1:${ports[2]}" --health-interval-ms 500 2> "$OUT/router-$policy.log" &
  pids+=($!)
  rport=$(wait_port_file "$OUT/router.port")
  until curl -sf "http://127.0.0.1:$rport/health" | grep -q '"in_rotation":true.*"in_rotation":true.*"in_rotation":true'; do
    sleep 0.1
  done
  "$SURGE" bench --url "http://127.0.0.1:$rport" --endpoint chat --concurrency "$CONCURRENCY" \
    --requests "$REQUESTS" --shared-prefix-tokens "$PREFIX_TOKENS" --num-prefixes "$NUM_PREFIXES" \
    --prompt-tokens "$PROMPT_TOKENS" --max-tokens "$MAX_TOKENS" --ignore-eos --seed 1 \
    --no-metrics --json "$OUT/$policy.json" > "$OUT/bench-$policy.txt" 2>&1
  curl -s "http://127.0.0.1:$rport/metrics" | grep -E '^surge:router_(routing_decisions|upstream_requests)_total' \
    > "$OUT/router-metrics-$policy.txt" || true
  hits=$(metric_sum vllm:prefix_cache_hits_total "${ports[@]}")
  queries=$(metric_sum vllm:prefix_cache_queries_total "${ports[@]}")
  python3 - "$OUT/$policy.json" "$policy" "$hits" "$queries" <<'PY'
import json, sys
path, policy, hits, queries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
level = json.load(open(path))["targets"][0]["levels"][0]
ttft = level["ttft_ms"]
print(f"{policy:<12} {hits / max(queries, 1):10.3f} {hits:10d} {ttft['mean']:12.1f} "
      f"{ttft['p50']:12.1f} {ttft['p99']:12.1f} {level['num_errors']:10d}")
PY
  cleanup
  pids=()
done

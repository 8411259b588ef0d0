#!/usr/bin/env bash
# Serving latency while jobs run (docs/benchmarks.md): `surge bench` against
# an idle `surge serve`, then against the same server while three training
# jobs and an eval job run, each at the jobs' default priority (nice 15).
# Prints p99 TTFT idle vs with jobs, and checks every job finished and its
# progress streamed. Small on purpose (micro trainings, the tiny model): the
# machine is shared.
#
#   bench/compare/jobs_under_load.sh [SURGE_BINARY]
# Env: MODEL (served and evaluated; default models/tiny-llama-q8_0.gguf),
#      CONCURRENCY (4), REQUESTS (96), STEPS (training steps, 400), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/../.."

SURGE=${1:-${SURGE:-build/release/tools/surge/surge}}
MODEL=${MODEL:-models/tiny-llama-q8_0.gguf}
CONCURRENCY=${CONCURRENCY:-4}
REQUESTS=${REQUESTS:-96}
STEPS=${STEPS:-400}
THREADS=${THREADS:-2}
KEY=bench-admin
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Training text: two books of the King James Bible (or a repeated paragraph);
# held-out text for the eval: another book.
if command -v bible >/dev/null; then
  bible gen1:1-exo40:38 </dev/null >"$WORK/corpus.txt" 2>/dev/null
  bible ruth1:1-ruth4:22 </dev/null >"$WORK/heldout.txt" 2>/dev/null
else
  for i in $(seq 400); do echo "The river runs past a quiet town where old boats rest under green trees, line $i."; done >"$WORK/corpus.txt"
  head -c 20000 "$WORK/corpus.txt" >"$WORK/heldout.txt"
fi

"$SURGE" serve -m "$MODEL" --model-name m --port 0 --port-file "$WORK/port" --threads "$THREADS" \
  --admin-key "$KEY" --jobs-dir "$WORK/jobs" --max-jobs 4 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 600); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"

bench() {  # $1: json output, $2: seed (new prompts each run: no prefix-cache hits)
  "$SURGE" bench --url "$URL" --model m --concurrency "$CONCURRENCY" --requests "$REQUESTS" \
    --warmup 4 --prompt-tokens 64 --max-tokens 32 --ignore-eos --seed "$2" --json "$1" \
    >/dev/null 2>&1
}
p99() { jq '.targets[0].levels[0].ttft_ms.p99' "$1"; }
p50() { jq '.targets[0].levels[0].ttft_ms.p50' "$1"; }
p90() { jq '.targets[0].levels[0].ttft_ms.p90' "$1"; }
maxv() { jq '.targets[0].levels[0].ttft_ms.max' "$1"; }

bench "$WORK/idle.json" 1

submit() {
  curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "$1" "$URL/v1/jobs" | jq -r .id
}
IDS=()
for seed in 1 2 3; do
  IDS+=("$(submit "{\"kind\":\"train\",\"threads\":1,\"args\":{\"corpus\":\"$WORK/corpus.txt\",\"preset\":\"micro\",\"steps\":$STEPS,\"seed\":$seed,\"output\":\"$WORK/m$seed.gguf\"}}")")
done
IDS+=("$(submit "{\"kind\":\"eval\",\"threads\":1,\"args\":{\"model\":\"$MODEL\",\"text\":\"$WORK/heldout.txt\",\"max_tokens\":6000}}")")
# Follow one training's events in the background: progress must stream.
curl -sN "$URL/v1/jobs/${IDS[0]}/events" >"$WORK/events.txt" &
EVENTS_PID=$!
sleep 2  # the tokenizers are learned; the trainings are stepping
running=$(curl -sf "$URL/v1/jobs" | jq '[.data[] | select(.state == "running")] | length')

bench "$WORK/jobs.json" 2
still_running=$(curl -sf "$URL/v1/jobs" | jq '[.data[] | select(.state == "running")] | length')

start=$(date +%s)
while curl -sf "$URL/v1/jobs" | jq -e '[.data[] | select(.state == "queued" or .state == "running")] | length > 0' >/dev/null; do
  sleep 1
  if (($(date +%s) - start > 1800)); then echo "jobs did not finish in 30 min" >&2; exit 1; fi
done
wait "$EVENTS_PID" || true
curl -sf "$URL/v1/jobs" | jq -r '.data[] | "\(.id) \(.kind) \(.state) \(.result.loss // .result.perplexity // "")"'
progress_events=$(grep -c '^event: progress' "$WORK/events.txt" || true)
bench "$WORK/after.json" 3  # idle again: how noisy the machine is

idle99=$(p99 "$WORK/idle.json"); jobs99=$(p99 "$WORK/jobs.json")
echo "jobs running when the loaded bench started: $running, when it ended: $still_running"
echo "progress events streamed for ${IDS[0]}: $progress_events"
for run in idle jobs after; do
  echo "TTFT $run: p50 $(p50 "$WORK/$run.json") p90 $(p90 "$WORK/$run.json") p99 $(p99 "$WORK/$run.json") max $(maxv "$WORK/$run.json") ms"
done
echo "TTFT p99 idle $idle99 ms, with jobs $jobs99 ms, ratio $(jq -n "$jobs99 / $idle99 * 100 | round / 100"); idle again after the jobs $(p99 "$WORK/after.json") ms"
failed=$(curl -sf "$URL/v1/jobs" | jq '[.data[] | select(.state != "succeeded")] | length')
errors=$(jq '.targets[0].levels[0].num_errors' "$WORK/jobs.json")
[[ "$failed" == 0 && "$errors" == 0 && "$progress_events" -gt 0 ]]

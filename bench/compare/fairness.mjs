// Fairness of one `surge serve` under contention, measured end to end on the
// real binary (it starts the servers itself, on loopback, port 0):
//
//   tenants: tenant B alone (1 streaming client), then tenant A at 10x B's
//            load (10 clients) next to it; reports B's p50/p90 TTFT both
//            times and the ratio (goal: within 2x). As a control, the same
//            load with A and B on keys of one tenant (no fair share between
//            them).
//   models:  model A alone, model B alone, then both at once (same clients
//            each); reports each model's generated tokens/s and the fraction
//            of its solo throughput it keeps (goal: >= 40%).
//
//   node bench/compare/fairness.mjs SURGE_BINARY tenants MODEL.gguf [seconds=20]
//   node bench/compare/fairness.mjs SURGE_BINARY models A.gguf B.gguf [seconds=20] [clients=4]
//
// SURGE_SERVE_ARGS (environment) adds flags to every `surge serve`, e.g.
// "--max-batch-tokens 128"; MAX_TOKENS (environment, default 32) sets the
// tokens generated per request.
// Requests: chat, ~60-word prompts (distinct per request, so the prefix
// cache does not help), max_tokens 32, greedy, ignore_eos, streamed.
import {spawn} from "node:child_process";
import {mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {sseEvents} from "./sse.mjs";

const [binary, scenario, ...rest] = process.argv.slice(2);
if (!binary || !["tenants", "models"].includes(scenario)) {
  console.error("usage: node fairness.mjs SURGE_BINARY tenants MODEL [seconds] | models A B [seconds] [clients]");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "surge-fairness-"));
const words = "the a of and to in is was he for it with as his on be at by had not are".split(" ");
let serial = 0;

async function startServer(args) {
  const portFile = join(dir, `port-${serial++}`);
  const extra = (process.env.SURGE_SERVE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(binary, ["serve", "--port", "0", "--port-file", portFile, ...args, ...extra],
                     {stdio: ["ignore", "ignore", "inherit"]});
  for (let i = 0; i < 600; ++i) {
    if (existsSync(portFile) && readFileSync(portFile, "utf8").endsWith("\n")) break;
    await new Promise(r => setTimeout(r, 50));
  }
  const port = readFileSync(portFile, "utf8").trim();
  return {url: `http://127.0.0.1:${port}`, stop: () => proc.kill("SIGKILL")};
}

// One streamed chat request; returns TTFT (ms) and completion tokens.
async function one(url, model, key, maxTokens = Number(process.env.MAX_TOKENS ?? 32)) {
  const n = serial++;
  const prompt = Array.from({length: 60}, (_, k) => words[(n * 7 + k * 3) % words.length]).join(" ") + ` #${n}`;
  const body = {model, messages: [{role: "user", content: prompt}], max_tokens: maxTokens,
                temperature: 0, ignore_eos: true, stream: true, stream_options: {include_usage: true}};
  const headers = {"Content-Type": "application/json"};
  if (key) headers.Authorization = `Bearer ${key}`;
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {method: "POST", body: JSON.stringify(body), headers});
  let ttft = null, tokens = 0;
  for await (const data of sseEvents(res)) {
    if (data.usage) tokens = data.usage.completion_tokens;
    if (ttft === null && data.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
  }
  return {ok: res.status === 200, ttft: ttft ?? performance.now() - t0, tokens};
}

// `clients` closed-loop clients until `seconds` pass; per-request results.
async function load(url, model, key, clients, seconds) {
  const results = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(Array.from({length: clients}, async () => {
    while (performance.now() < deadline) results.push(await one(url, model, key));
  }));
  return results;
}

const pct = (xs, p) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length ? +a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)].toFixed(1) : null;
};
const summary = (rs, seconds) => ({
  requests: rs.length, errors: rs.filter(r => !r.ok).length,
  ttft_p50_ms: pct(rs.map(r => r.ttft), 0.5), ttft_p90_ms: pct(rs.map(r => r.ttft), 0.9),
  tokens_per_s: +(rs.reduce((s, r) => s + r.tokens, 0) / seconds).toFixed(1),
});

async function tenants(model, seconds) {
  const keys = join(dir, "keys.json");
  const run = async (tenantsJson) => {
    writeFileSync(keys, JSON.stringify({tenants: tenantsJson}));
    const server = await startServer(["-m", model, "--keys-file", keys, "--threads", "2"]);
    try {
      const name = (await (await fetch(`${server.url}/v1/models`, {headers: {Authorization: "Bearer kb"}})).json()).data[0].id;
      await load(server.url, name, "kb", 1, 2);  // warm-up
      const alone = await load(server.url, name, "kb", 1, seconds);
      const [a, b] = await Promise.all([load(server.url, name, "ka", 10, seconds),
                                         load(server.url, name, "kb", 1, seconds)]);
      return {b_alone: summary(alone, seconds), b_with_a: summary(b, seconds), a: summary(a, seconds),
              ratio_p50: +(pct(b.map(r => r.ttft), 0.5) / pct(alone.map(r => r.ttft), 0.5)).toFixed(2)};
    } finally {
      server.stop();
    }
  };
  const fair = await run([{name: "A", keys: ["ka"]}, {name: "B", keys: ["kb"]}]);
  const control = await run([{name: "AB", keys: ["ka", "kb"]}]);
  return {scenario: "tenants", seconds, two_tenants: fair, one_tenant_control: control};
}

async function models(a, b, seconds, clients) {
  const server = await startServer(["--model", `A=${a}`, "--model", `B=${b}`, "--preload-model", "A",
                                    "--preload-model", "B", "--threads", "2"]);
  try {
    await load(server.url, "A", null, 1, 2);
    await load(server.url, "B", null, 1, 2);
    const soloA = summary(await load(server.url, "A", null, clients, seconds), seconds);
    const soloB = summary(await load(server.url, "B", null, clients, seconds), seconds);
    const [bothA, bothB] = await Promise.all([load(server.url, "A", null, clients, seconds),
                                              load(server.url, "B", null, clients, seconds)]);
    const sa = summary(bothA, seconds), sb = summary(bothB, seconds);
    return {scenario: "models", seconds, clients_per_model: clients, solo_a: soloA, solo_b: soloB,
            both_a: sa, both_b: sb,
            a_kept: +(sa.tokens_per_s / soloA.tokens_per_s).toFixed(2),
            b_kept: +(sb.tokens_per_s / soloB.tokens_per_s).toFixed(2)};
  } finally {
    server.stop();
  }
}

try {
  const out = scenario === "tenants"
      ? await tenants(rest[0], Number(rest[1] ?? 20))
      : await models(rest[0], rest[1], Number(rest[2] ?? 20), Number(rest[3] ?? 4));
  console.log(JSON.stringify(out, null, 1));
} finally {
  rmSync(dir, {recursive: true, force: true});
}

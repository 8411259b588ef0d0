// Time to first token per turn of a multi-turn chat against a running
// `surge serve`, with and without `session_id`, while background clients
// send unrelated long prompts that push the conversation out of the plain
// prefix cache. With a session, turn N should prefill only its new message,
// so its TTFT stays flat as the history grows.
//
//   node bench/compare/session_turns.mjs --url http://127.0.0.1:8080 \
//        [--turns 10] [--pressure 3] [--words 60] [--max-tokens 32] [--think-ms 2000]
//
// --think-ms is the user's pause between an answer and the next question:
// the time in which the background load can evict an idle conversation.
//
// Prints one JSON object: per mode ("session", "no_session") the turns'
// {prompt_tokens, cached_tokens, ttft_ms}.
import {parseArgs} from "node:util";
import {sseEvents} from "./sse.mjs";

const {values: opt} = parseArgs({options: {
  url: {type: "string", default: "http://127.0.0.1:8080"},
  turns: {type: "string", default: "10"},
  pressure: {type: "string", default: "3"},
  words: {type: "string", default: "60"},
  "max-tokens": {type: "string", default: "32"},
  "think-ms": {type: "string", default: "2000"},
  model: {type: "string"},
}});
const turns = Number(opt.turns), pressure = Number(opt.pressure);
const words = ["river", "stone", "light", "king", "house", "bread", "field", "night", "water",
               "voice", "hand", "mountain", "city", "gold", "fire", "wind", "road", "tree"];
let seed = 12345;
function rand() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
function text(n) { return Array.from({length: n}, () => words[Math.floor(rand() * words.length)]).join(" "); }

const model = opt.model ?? (await (await fetch(`${opt.url}/v1/models`)).json()).data[0].id;

// One streamed chat call: TTFT from the first content chunk, usage at the end.
async function chat(body) {
  const t0 = performance.now();
  const res = await fetch(`${opt.url}/v1/chat/completions`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({...body, model, stream: true, stream_options: {include_usage: true}}),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = null, usage = null, reply = "";
  for await (const ev of sseEvents(res)) {
    if (ev.usage) usage = ev.usage;
    const delta = ev.choices?.[0]?.delta?.content;
    if (delta) { if (ttft === null) ttft = performance.now() - t0; reply += delta; }
  }
  return {ttft, usage, reply};
}

async function conversation(session) {
  const messages = [{role: "system", content: text(Number(opt.words))}];
  const out = [];
  for (let t = 0; t < turns; ++t) {
    messages.push({role: "user", content: text(Number(opt.words))});
    const body = {messages, max_tokens: Number(opt["max-tokens"]), temperature: 0};
    if (session) body.session_id = session;
    const r = await chat(body);
    messages.push({role: "assistant", content: r.reply});
    await new Promise((done) => setTimeout(done, Number(opt["think-ms"])));
    out.push({turn: t + 1, prompt_tokens: r.usage?.prompt_tokens,
              cached_tokens: r.usage?.prompt_tokens_details?.cached_tokens ?? 0,
              ttft_ms: Math.round(r.ttft ?? -1)});
  }
  return out;
}

async function withPressure(fn) {
  let stop = false;
  const loops = Array.from({length: pressure}, async () => {
    while (!stop) {
      await chat({messages: [{role: "user", content: text(250)}], max_tokens: 4, temperature: 0})
          .catch(() => {});
    }
  });
  try { return await fn(); } finally { stop = true; await Promise.all(loops); }
}

const result = {model, turns, pressure};
result.no_session = await withPressure(() => conversation(null));
result.session = await withPressure(() => conversation(`bench-${Date.now()}`));
console.log(JSON.stringify(result, null, 1));

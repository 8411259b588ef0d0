// Interim load generator until `surge bench` exists: C concurrent streaming
// clients send R chat requests in total (closed loop) to an OpenAI-compatible
// server and report generated tokens/s, p50/p99 request latency and TTFT.
//
//   node stream_load.mjs URL MODEL [concurrency=16] [requests=48] [prompt_words=60] [max_tokens=64]
// Loopback targets only (this is a load generator).
const [url, model, c = "16", n = "48", words = "60", maxTokens = "64"] = process.argv.slice(2);
if (!url || !model) {
  console.error("usage: node stream_load.mjs URL MODEL [concurrency] [requests] [prompt_words] [max_tokens]");
  process.exit(2);
}
const host = new URL(url).hostname;
if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
  console.error("stream_load: refusing a non-loopback target");
  process.exit(2);
}
const concurrency = Number(c), total = Number(n);
const vocabulary = "the a of and to in is was he for it with as his on be at by had not are".split(" ");

async function one(i) {
  const prompt = Array.from({length: Number(words)}, (_, k) => vocabulary[(i * 7 + k * 3) % vocabulary.length]).join(" ");
  const body = {model, messages: [{role: "user", content: prompt}], max_tokens: Number(maxTokens),
                temperature: 0, ignore_eos: true, stream: true, stream_options: {include_usage: true}};
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {method: "POST", body: JSON.stringify(body),
                                                          headers: {"Content-Type": "application/json"}});
  let ttft = null, tokens = 0, promptTokens = 0, buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, {stream: true});
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const data = JSON.parse(event.slice(6));
      if (data.usage) {
        tokens = data.usage.completion_tokens;
        promptTokens = data.usage.prompt_tokens;
      }
      if (ttft === null && data.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
    }
  }
  return {ok: res.status === 200, latency: performance.now() - t0, ttft, tokens, promptTokens};
}

const results = [];
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({length: concurrency}, async () => {
  while (next < total) results.push(await one(next++));
}));
const seconds = (performance.now() - t0) / 1000;
const pct = (a, p) => a.sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
const ok = results.filter(r => r.ok);
const generated = ok.reduce((s, r) => s + r.tokens, 0);
console.log(JSON.stringify({
  concurrency, requests: total, errors: total - ok.length,
  prompt_tokens_mean: +(ok.reduce((s, r) => s + r.promptTokens, 0) / ok.length).toFixed(1),
  generated_tokens_per_s: +(generated / seconds).toFixed(1),
  latency_p50_s: +(pct(ok.map(r => r.latency), 0.5) / 1000).toFixed(3),
  latency_p99_s: +(pct(ok.map(r => r.latency), 0.99) / 1000).toFixed(3),
  ttft_p50_s: +(pct(ok.map(r => r.ttft), 0.5) / 1000).toFixed(3),
  ttft_p99_s: +(pct(ok.map(r => r.ttft), 0.99) / 1000).toFixed(3),
}));

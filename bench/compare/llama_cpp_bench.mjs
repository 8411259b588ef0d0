// Side-by-side anchor: llama.cpp (through the node-llama-cpp npm package,
// which ships prebuilt llama.cpp binaries) on the same GGUF file, measured
// the way `surge run --bench` measures Surge: prompt processing of 512 tokens
// and generation of 128 tokens, one sequence, N threads, mean over runs.
//
//   node llama_cpp_bench.mjs MODEL.gguf [threads] [repetitions]
// Prints one JSON object: {"pp512_tps":..,"tg128_tps":..,"engine":"llama.cpp"}.
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg = "2", repsArg = "3"] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node llama_cpp_bench.mjs MODEL.gguf [threads] [repetitions]");
  process.exit(2);
}
const threads = Number(threadsArg);
const reps = Number(repsArg);

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const nVocab = model.tokens.nTokens ?? 32000;

// Deterministic pseudo-random token ids (the values do not change the timing).
function tokens(n, seed) {
  let x = BigInt(seed) * 0x9E3779B97F4A7C15n + 1n;
  const out = [];
  for (let i = 0; i < n; ++i) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xFFFFFFFFFFFFFFFFn;
    out.push(Number((x >> 33n) % BigInt(nVocab)));
  }
  return out;
}

async function measure() {
  const ctx = await model.createContext({contextSize: 1024, batchSize: 512, threads, sequences: 1});
  const seq = ctx.getSequence();
  let t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(tokens(512, 1));
  const pp = 512 / ((performance.now() - t0) / 1000);
  await seq.clearHistory();

  let n = 0;
  t0 = performance.now();
  for await (const _ of seq.evaluate(tokens(1, 2), {temperature: 0})) {
    if (++n >= 128) break;
  }
  const tg = n / ((performance.now() - t0) / 1000);
  await ctx.dispose();
  return {pp, tg};
}

await measure();  // warm-up
const pp = [], tg = [];
for (let i = 0; i < reps; ++i) {
  const r = await measure();
  pp.push(r.pp);
  tg.push(r.tg);
}
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
console.log(JSON.stringify({engine: "llama.cpp (node-llama-cpp)", threads,
                            pp512_tps: +mean(pp).toFixed(2), tg128_tps: +mean(tg).toFixed(2)}));
await model.dispose();

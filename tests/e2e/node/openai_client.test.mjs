// The official `openai` npm client against a real `surge serve` on port 0:
// completions, chat, streaming with usage, n > 1, stop strings and errors.
// Run by CTest (see tests/e2e/CMakeLists.txt) with SURGE_BINARY set.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {spawn, execFileSync} from "node:child_process";
import {mkdtempSync, readFileSync, existsSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import OpenAI from "openai";

const binary = process.env.SURGE_BINARY ?? "surge";
const dir = mkdtempSync(join(tmpdir(), "surge-node-"));
const modelPath = join(dir, "tiny.gguf");
const portFile = join(dir, "port");
const model = "surge-llama-tiny";
let server;
let client;

before(async () => {
  execFileSync(binary, ["model", "init", "--arch", "llama", "--preset", "tiny", "--type", "q8_0",
                        "--seed", "9", "-o", modelPath], {stdio: "ignore"});
  server = spawn(binary, ["serve", "-m", modelPath, "--port", "0", "--port-file", portFile,
                          "--api-key", "test-key"], {stdio: ["ignore", "ignore", "inherit"]});
  for (let i = 0; i < 300 && !existsSync(portFile); ++i) await new Promise(r => setTimeout(r, 50));
  let port = "";
  for (let i = 0; i < 100 && !port.endsWith("\n"); ++i) {
    port = readFileSync(portFile, "utf8");
    if (!port.endsWith("\n")) await new Promise(r => setTimeout(r, 20));
  }
  client = new OpenAI({baseURL: `http://127.0.0.1:${port.trim()}/v1`, apiKey: "test-key",
                       maxRetries: 0});
});

after(() => {
  server?.kill("SIGKILL");
  rmSync(dir, {recursive: true, force: true});
});

test("models lists the served model", async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map(m => m.id), [model]);
});

test("completion", async () => {
  const r = await client.completions.create({model, prompt: "Once upon a time", max_tokens: 8,
                                             temperature: 0});
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 8);
  assert.ok(r.choices[0].text.length > 0);
});

test("chat completion and its stream say the same", async () => {
  const messages = [{role: "system", content: "You are terse."}, {role: "user", content: "Hi!"}];
  const whole = await client.chat.completions.create({model, messages, max_tokens: 10,
                                                      temperature: 0});
  assert.equal(whole.choices[0].message.role, "assistant");
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 10, temperature: 0, stream: true,
    stream_options: {include_usage: true}});
  let text = "", finish = null, usage = null, role = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      role ??= c.delta.role ?? null;
      text += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(role, "assistant");
  assert.equal(finish, "length");
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(usage.completion_tokens, 10);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test("n > 1 with a seed is reproducible", async () => {
  const req = {model, prompt: "Hello", max_tokens: 6, n: 2, temperature: 1, seed: 7};
  const a = await client.completions.create(req);
  const b = await client.completions.create(req);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map(c => c.text), b.choices.map(c => c.text));
  assert.equal(a.usage.completion_tokens, 12);
});

test("stop strings end the text before the stop", async () => {
  const base = {model, prompt: "In the beginning", max_tokens: 16, temperature: 0};
  const full = (await client.completions.create(base)).choices[0].text;
  const stop = full.slice(5, 8);
  const cut = await client.completions.create({...base, stop: [stop]});
  assert.equal(cut.choices[0].finish_reason, "stop");
  assert.equal(cut.choices[0].text, full.slice(0, full.indexOf(stop)));
});

test("errors arrive as the client's typed errors", async () => {
  await assert.rejects(client.chat.completions.create({model: "nope", messages: [
      {role: "user", content: "x"}]}), err => err.status === 404 && err.code === "model_not_found");
  await assert.rejects(client.completions.create({model, prompt: "x", max_tokens: 100000}),
                       err => err.status === 400);
  const bad = new OpenAI({baseURL: client.baseURL, apiKey: "wrong", maxRetries: 0});
  await assert.rejects(bad.models.list(), err => err.status === 401);
});

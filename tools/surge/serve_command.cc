// `surge serve`: host one or more models (loaded at start or on demand, under
// a memory budget), answer the OpenAI API until SIGTERM/SIGINT, then drain:
// /health turns 503, no new connections, in-flight requests finish (up to
// --drain-timeout), exit 0.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "engine/compute_arbiter.h"
#include "engine/engine.h"
#include "engine/model/chat_template.h"
#include "server/api_server.h"
#include "server/openai/keep_alive.h"
#include "tools/surge/commands.h"
#include "tools/surge/serve_jobs.h"
#include "tools/surge/serve_models.h"
#include "tools/surge/stop_signals.h"

namespace surge::cli {
namespace {

struct ServeFlags {
  ModelFlags models;
  JobsFlags jobs;
  int64_t max_memory_bytes = 0;
  std::string admin_key;
  std::string session_dir;
  std::string session_ttl = "30m";
  std::string preload_file;
  std::string keys_file;
  int64_t response_cache_bytes = 0;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string port_file;
  std::vector<std::string> api_keys;
  int threads = 0;
  int http_threads = 1;
  engine::EngineConfig engine;
  std::string chat_template;
  double drain_timeout_s = 30;
  int64_t queue_timeout_ms = 0;
  int64_t max_body_bytes = 8 << 20;
  int64_t read_timeout_ms = 30000;
  int max_connections = 4096;
  int32_t max_tokens_limit = 32768;
  int32_t max_n = 16;
  std::string kv_type = "f16";
};

server::ApiOptions ApiOptionsFrom(const ServeFlags& f) {
  server::ApiOptions o;
  o.http.host = f.host;
  o.http.port = static_cast<uint16_t>(f.port);
  o.http.io_threads = f.http_threads;
  o.http.max_body_bytes = static_cast<size_t>(f.max_body_bytes);
  o.http.read_timeout = std::chrono::milliseconds(f.read_timeout_ms);
  o.http.max_connections = static_cast<size_t>(f.max_connections);
  o.api_keys = f.api_keys;
  o.keys_file = f.keys_file;
  o.admin_key = f.admin_key;
  o.response_cache_bytes = f.response_cache_bytes;
  o.limits.max_tokens_limit = f.max_tokens_limit;
  o.limits.max_n = f.max_n;
  if (f.queue_timeout_ms > 0) o.queue_timeout = std::chrono::milliseconds(f.queue_timeout_ms);
  return o;
}

// Builds the registry (not started) from the flags.
absl::StatusOr<std::shared_ptr<server::ModelRegistry>> MakeRegistry(const ServeFlags& f,
                                                                    const ResolvedModels& models,
                                                                    server::ModelLoader* loader) {
  if (!f.chat_template.empty() && !engine::model::ChatTemplateFromName(f.chat_template)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --chat-template '", f.chat_template,
                     "' (known: chatml, llama2, llama3, mistral, gemma, phi3, zephyr)"));
  }
  if (f.max_memory_bytes < 0) return absl::InvalidArgumentError("--max-memory must be >= 0");
  engine::EngineConfig ec = f.engine;
  ec.num_threads = f.threads;
  ec.kv_type = *engine::kv::KvTypeFromName(f.kv_type);  // validated by the flag
  // Every model's engine takes turns on the same cores.
  ec.compute_arbiter = std::make_shared<engine::ComputeArbiter>();
  server::RegistryOptions ro;
  ro.max_memory_bytes = f.max_memory_bytes;
  ro.default_keep_alive = models.default_keep_alive;
  ro.max_waiters = f.engine.max_queued_requests;
  LoaderOptions lo;
  if (!f.session_ttl.empty()) {
    absl::StatusOr<std::chrono::milliseconds> ttl =
        server::openai::ParseKeepAliveText(f.session_ttl);
    if (!ttl.ok() || *ttl <= std::chrono::milliseconds(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--session-ttl '", f.session_ttl, "' is not a positive duration (30m, 2h, 90s)"));
    }
    ec.sessions.ttl = *ttl;
  }
  if (ec.sessions.max_tokens <= 0) {
    return absl::InvalidArgumentError("--session-max-tokens must be > 0");
  }
  lo.engine = ec;
  lo.chat_template = f.chat_template;
  lo.session_dir = f.session_dir;
  if (!f.preload_file.empty()) {
    SURGE_ASSIGN_OR_RETURN(lo.preload, server::ParsePreloadFile(f.preload_file));
  }
  *loader = MakeModelLoader(std::move(lo));  // deploy jobs load with it too
  auto registry = server::ModelRegistry::Create(ro, *loader);
  for (const server::ModelSpec& spec : models.specs) {
    // Models load on first use; their headers are read now, so a file that
    // cannot load (or a --kv-type it cannot take) stops the start, not a
    // client's request later.
    if (absl::StatusOr<int64_t> bytes = loader->estimate_bytes(spec); !bytes.ok()) {
      return absl::Status(
          bytes.status().code(),
          absl::StrCat("model '", spec.name, "' (", spec.path, "): ", bytes.status().message()));
    }
    SURGE_RETURN_IF_ERROR(registry->Add(spec));
  }
  return registry;
}

int Serve(const ServeFlags& f) {
  const StopSignals stop;  // before any thread starts

  absl::StatusOr<ResolvedModels> models = ResolveModels(f.models);
  if (!models.ok()) return Fail("serve", models.status());
  server::ModelLoader loader;
  absl::StatusOr<std::shared_ptr<server::ModelRegistry>> registry =
      MakeRegistry(f, *models, &loader);
  if (!registry.ok()) return Fail("serve", registry.status());
  absl::StatusOr<std::unique_ptr<ServeJobs>> jobs = ServeJobs::Create(f.jobs, *registry, loader);
  if (!jobs.ok()) return Fail("serve", jobs.status());
  server::ApiOptions api_options = ApiOptionsFrom(f);
  api_options.extra_routes.push_back((*jobs)->RouteHook());
  absl::StatusOr<std::unique_ptr<server::ApiServer>> api =
      server::ApiServer::Create(**registry, api_options);
  if (!api.ok()) return Fail("serve", api.status());

  (*registry)->Start();
  for (const std::string& name : models->preload) {
    if (absl::Status s = (*registry)->Preload(name); !s.ok()) return Fail("serve", s);
  }
  if (absl::Status s = (*api)->Start(); !s.ok()) return Fail("serve", s);
  (*jobs)->Start(&(*api)->in_flight());
  const uint16_t port = (*api)->port();
  if (!f.port_file.empty()) std::ofstream(f.port_file) << port << "\n";
  std::string names;
  for (const server::ModelSpec& spec : models->specs) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", spec.name);
  }
  SURGE_LOG_INFO("serving {} model(s) [{}] on http://{}:{} ({} preloaded, memory budget {})",
                 models->specs.size(), names, f.host, port, models->preload.size(),
                 f.max_memory_bytes > 0 ? std::to_string(f.max_memory_bytes) + " bytes" : "none");

  stop.Wait(f.drain_timeout_s);
  (*api)->BeginDrain();
  WaitUntilIdle([&] { return (*api)->idle(); }, f.drain_timeout_s);
  (*jobs)->Stop();      // running jobs stop; resumable ones continue at the next start
  (*registry)->Stop();  // ends whatever is left with a terminal event
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let final writes flush
  (*api)->Stop();
  SURGE_LOG_INFO("stopped");
  return 0;
}

}  // namespace

CommandFn RegisterServe(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  app.set_config("--config", "", "read flags from a TOML/INI file (keys are flag names)");
  // Every flag can also come from SURGE_<FLAG> in the environment.
  auto env = [](CLI::Option* o, const std::string& name) { return o->envname("SURGE_" + name); };
  env(app.add_option("-m,--model", f->models.models,
                     "model: FILE (loaded at start, kept loaded) or NAME=FILE (loaded on first "
                     "request); repeatable"),
      "MODEL");
  env(app.add_option("--model-name", f->models.model_name,
                     "name of the -m FILE model for clients (default: general.name)"),
      "MODEL_NAME");
  env(app.add_option("--models-dir", f->models.models_dir,
                     "serve every .gguf in DIR, named after the file (loaded on demand)"),
      "MODELS_DIR");
  env(app.add_option("--preload-model", f->models.preload, "load this model at start (repeatable)"),
      "PRELOAD_MODEL");
  env(app.add_option("--keep-alive", f->models.keep_alive,
                     "how long an idle model stays loaded: 5m, 1h, 30s, 0 (unload when idle), "
                     "-1 (forever); default 5m (-m FILE: forever); requests may set keep_alive"),
      "KEEP_ALIVE");
  env(app.add_option("--max-memory", f->max_memory_bytes,
                     "memory budget for loaded models in bytes (weights + KV cache); loading past "
                     "it unloads the least recently used idle model (0 = no budget)")
          ->capture_default_str(),
      "MAX_MEMORY");
  env(app.add_option("--admin-key", f->admin_key,
                     "key for the admin API (/admin/models...); none = admin API off"),
      "ADMIN_KEY");
  env(app.add_option("--keys-file", f->keys_file,
                     "JSON file of tenants: keys, weight, quotas (re-read when it changes; see "
                     "server/README.md)"),
      "KEYS_FILE");
  env(app.add_option("--response-cache-bytes", f->response_cache_bytes,
                     "bytes for cached answers of deterministic requests (temperature 0 or a "
                     "seed); 0 = off")
          ->capture_default_str(),
      "RESPONSE_CACHE_BYTES");
  env(app.add_option("--session-dir", f->session_dir,
                     "save sessions (session_id) here when idle and at shutdown; restored at "
                     "start (\"\" = memory only)"),
      "SESSION_DIR");
  env(app.add_option("--session-ttl", f->session_ttl,
                     "a session idle this long is dropped and its KV blocks zeroed (30m, 2h)")
          ->capture_default_str(),
      "SESSION_TTL");
  env(app.add_option("--session-max-tokens", f->engine.sessions.max_tokens,
                     "tokens of KV cache one session keeps pinned at most")
          ->capture_default_str(),
      "SESSION_MAX_TOKENS");
  env(app.add_option("--preload", f->preload_file,
                     "JSON Lines file of system prompts to compute and pin when a model loads "
                     "(server/preload.h)"),
      "PRELOAD");
  env(app.add_option("--host", f->host, "address to listen on")->capture_default_str(), "HOST");
  env(app.add_option("--port", f->port, "port (0 = any free port)")->capture_default_str(), "PORT");
  app.add_option("--port-file", f->port_file, "write the bound port to this file");
  env(app.add_option("--api-key", f->api_keys, "accepted API key (repeatable); none = open"),
      "API_KEY");
  env(app.add_option("-t,--threads", f->threads, "compute threads (0 = one per core)")
          ->capture_default_str(),
      "THREADS");
  env(app.add_option("--http-threads", f->http_threads, "HTTP I/O threads")->capture_default_str(),
      "HTTP_THREADS");
  env(app.add_option("--max-batch-tokens", f->engine.max_batch_tokens, "token budget per step")
          ->capture_default_str(),
      "MAX_BATCH_TOKENS");
  env(app.add_option("--max-running-seqs", f->engine.max_running_seqs,
                     "sequences in the running batch at most")
          ->capture_default_str(),
      "MAX_RUNNING_SEQS");
  env(app.add_option("--max-queued-requests", f->engine.max_queued_requests,
                     "waiting requests beyond which new ones get 429")
          ->capture_default_str(),
      "MAX_QUEUED_REQUESTS");
  env(app.add_option("--max-queued-tokens", f->engine.max_queued_tokens,
                     "waiting prompt tokens beyond which new requests get 429")
          ->capture_default_str(),
      "MAX_QUEUED_TOKENS");
  env(app.add_option("--kv-cache-bytes", f->engine.kv_cache_bytes,
                     "KV cache size (0 = a quarter of max-running-seqs full contexts)")
          ->capture_default_str(),
      "KV_CACHE_BYTES");
  env(app.add_option("--kv-type", f->kv_type,
                     "K/V cache rows: f16, or q8_0 (half the memory a token; the model's head "
                     "size must be a multiple of 32)")
          ->capture_default_str()
          ->check(CLI::IsMember({"f16", "q8_0"})),
      "KV_TYPE");
  env(app.add_option("--block-size", f->engine.block_size, "tokens per KV block")
          ->capture_default_str(),
      "BLOCK_SIZE");
  env(app.add_option("--ctx", f->engine.max_context, "context length (0 = the model's)")
          ->capture_default_str(),
      "CTX");
  env(app.add_option("--chat-template", f->chat_template,
                     "chatml|llama2|llama3|mistral|gemma|phi3|zephyr (default: from the GGUF)"),
      "CHAT_TEMPLATE");
  env(app.add_option("--drain-timeout", f->drain_timeout_s, "seconds to finish in-flight work")
          ->capture_default_str(),
      "DRAIN_TIMEOUT");
  env(app.add_option("--queue-timeout-ms", f->queue_timeout_ms,
                     "give up on requests queued longer (0 = never) -> 503")
          ->capture_default_str(),
      "QUEUE_TIMEOUT_MS");
  env(app.add_option("--max-body-bytes", f->max_body_bytes, "request body limit (413 beyond)")
          ->capture_default_str(),
      "MAX_BODY_BYTES");
  env(app.add_option("--read-timeout-ms", f->read_timeout_ms, "time to receive a request (408)")
          ->capture_default_str(),
      "READ_TIMEOUT_MS");
  env(app.add_option("--max-connections", f->max_connections, "open connections at most")
          ->capture_default_str(),
      "MAX_CONNECTIONS");
  env(app.add_option("--max-tokens-limit", f->max_tokens_limit, "largest accepted max_tokens")
          ->capture_default_str(),
      "MAX_TOKENS_LIMIT");
  env(app.add_option("--max-n", f->max_n, "largest accepted n")->capture_default_str(), "MAX_N");
  AddJobsFlags(app, &f->jobs);
  return [f]() -> int { return Serve(*f); };
}

}  // namespace surge::cli

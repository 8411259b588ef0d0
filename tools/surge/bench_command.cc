// `surge bench`: load an OpenAI-compatible server (Surge, llama.cpp's server,
// vLLM, Ollama) and report what its users feel: TTFT, TPOT, ITL, end-to-end
// latency, throughput, goodput, errors and the server's resource use.
// The work is in bench/load (see bench/README.md); this file parses flags.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "bench/load/bench.h"
#include "bench/load/svg_plot.h"
#include "tools/surge/commands.h"

namespace surge::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

struct BenchFlags {
  bench::BenchConfig config;
  std::string concurrency;
  std::string rate;
  std::string prompt_tokens = "128";
  std::string max_tokens = "128";
  std::string endpoint = "completions";
  bool no_metrics = false;
};

int Fail(std::string_view message, int code) {
  std::fprintf(stderr, "surge bench: %s\n", std::string(message).c_str());
  return code;
}

// Folds the text flags into the config; the message names the bad flag.
absl::Status Resolve(BenchFlags& f) {
  bench::BenchConfig& c = f.config;
  if (!f.concurrency.empty() && !f.rate.empty()) {
    return absl::InvalidArgumentError("give --concurrency or --rate, not both");
  }
  if (!f.rate.empty()) {
    c.mode = bench::LoadMode::kRate;
    absl::StatusOr<std::vector<double>> levels = bench::ParseNumberList(f.rate, "--rate");
    if (!levels.ok()) return levels.status();
    c.levels = *levels;
  } else {
    c.mode = bench::LoadMode::kConcurrency;
    absl::StatusOr<std::vector<double>> levels =
        bench::ParseNumberList(f.concurrency.empty() ? "1" : f.concurrency, "--concurrency");
    if (!levels.ok()) return levels.status();
    c.levels = *levels;
  }
  absl::StatusOr<bench::IntRange> prompt = bench::ParseIntRange(f.prompt_tokens, "--prompt-tokens");
  if (!prompt.ok()) return prompt.status();
  c.prompt_tokens = *prompt;
  absl::StatusOr<bench::IntRange> out = bench::ParseIntRange(f.max_tokens, "--max-tokens");
  if (!out.ok()) return out.status();
  c.max_tokens = *out;
  c.endpoint = f.endpoint == "chat" ? bench::Endpoint::kChat : bench::Endpoint::kCompletions;
  c.scrape_metrics = !f.no_metrics;
  return bench::ValidateConfig(c);
}

void InstallStopHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Every stream holds a socket: raise the soft descriptor limit to the hard one.
void RaiseFileLimit(double max_level) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      max_level + 64 > static_cast<double>(lim.rlim_cur)) {
    std::fprintf(stderr,
                 "surge bench: warning: %.0f concurrent requests but only %llu file "
                 "descriptors (ulimit -n); expect connection errors\n",
                 max_level, static_cast<unsigned long long>(lim.rlim_cur));
  }
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::UnavailableError("cannot write " + path);
  return absl::OkStatus();
}

int Bench(BenchFlags& f) {
  if (absl::Status s = Resolve(f); !s.ok()) return Fail(std::string(s.message()), 2);
  const bench::BenchConfig& c = f.config;
  InstallStopHandler();
  double max_level = 0;
  for (double v : c.levels) max_level = std::max(max_level, v);
  RaiseFileLimit(c.mode == bench::LoadMode::kConcurrency ? max_level : c.max_inflight);
  bench::ProgressDisplay display(stderr, isatty(STDERR_FILENO) == 1);
  absl::StatusOr<bench::BenchReport> report = bench::RunBench(c, &g_stop, &display);
  if (!report.ok()) return Fail(std::string(report.status().message()), 2);
  std::fputs(bench::FormatTables(*report).c_str(), stdout);
  std::fflush(stdout);
  int code = 0;
  if (!c.json_path.empty()) {
    absl::Status s = WriteFile(c.json_path, bench::ReportJson(*report).dump(2) + "\n");
    if (!s.ok()) code = Fail(std::string(s.message()), 1);
  }
  if (!c.plot_path.empty()) {
    absl::Status s = WriteFile(c.plot_path, bench::RenderSvg(*report));
    if (!s.ok()) code = Fail(std::string(s.message()), 1);
  }
  if (report->interrupted) return 130;
  int64_t ok = 0;
  for (const auto& t : report->targets) {
    for (const auto& l : t.levels) ok += l.stats.num_ok;
  }
  if (ok == 0) return Fail("no request succeeded (see the errors above)", 1);
  return code;
}

void AddLoadFlags(CLI::App& app, BenchFlags& f) {
  bench::BenchConfig& c = f.config;
  app.add_option("--concurrency", f.concurrency,
                 "closed loop: comma-separated concurrency levels, one run each (default 1)");
  app.add_option("--rate", f.rate, "open loop: comma-separated request rates (Poisson, req/s)");
  app.add_option("--requests", c.requests, "requests per level (arrivals in open loop)");
  app.add_option("--duration", c.duration_s, "seconds per level: no request starts later");
  app.add_option("--warmup", c.warmup, "requests per target before the first level (not counted)");
  app.add_option("--max-inflight", c.max_inflight, "open loop: requests in flight at most")
      ->capture_default_str();
  app.add_option("--timeout-s", c.timeout_s, "per-request time limit in seconds")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "fixes prompts, lengths and arrivals")->capture_default_str();
}

void AddRequestFlags(CLI::App& app, BenchFlags& f) {
  bench::BenchConfig& c = f.config;
  app.add_option("--prompt-tokens", f.prompt_tokens,
                 "synthetic prompt length per request (approximate): N or MIN:MAX")
      ->capture_default_str();
  app.add_option("--shared-prefix-tokens", c.shared_prefix_tokens,
                 "a system prompt of about N tokens before each prompt (0 = none)");
  app.add_option("--num-prefixes", c.num_prefixes,
                 "distinct system prompts (request i uses prompt i mod K)")
      ->capture_default_str();
  app.add_option("--dataset", c.dataset_path,
                 "JSONL file of {\"prompt\": ...} or {\"messages\": [...]} instead of synthetic");
  app.add_option("--max-tokens", f.max_tokens, "output length: N or MIN:MAX")
      ->capture_default_str();
  app.add_flag("--ignore-eos", c.ignore_eos, "ask the server to generate exactly max_tokens");
  app.add_option("--temperature", c.temperature, "sampling temperature")->capture_default_str();
  app.add_option("--endpoint", f.endpoint, "completions|chat")
      ->check(CLI::IsMember({"completions", "chat"}))
      ->capture_default_str();
  app.add_flag("--stream", c.stream, "stream responses (the default; TTFT and ITL need it)");
  app.add_flag("!--no-stream", c.stream, "ask for whole responses instead");
}

}  // namespace

CommandFn RegisterBench(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  bench::BenchConfig& c = f->config;
  app.add_option("--url", c.url, "server root, e.g. http://127.0.0.1:8080")->required();
  app.add_option("--compare", c.compare_url, "a second server: same load, levels interleaved");
  app.add_option("--model", c.model, "model name (default: first id of GET /v1/models)");
  app.add_option("--api-key", c.api_key, "sent as Authorization: Bearer")->envname("SURGE_API_KEY");
  app.add_flag("--allow-remote", c.allow_remote, "allow a target that is not a loopback address");
  AddLoadFlags(app, *f);
  AddRequestFlags(app, *f);
  app.add_option("--slo-ttft-ms", c.slo_ttft_ms, "goodput: TTFT bound in ms");
  app.add_option("--slo-tpot-ms", c.slo_tpot_ms, "goodput: TPOT bound in ms");
  app.add_option("--json", c.json_path, "write every figure and the configuration as JSON");
  app.add_option("--plot", c.plot_path, "write an SVG: throughput vs latency, TTFT CDF");
  app.add_flag("--no-metrics", f->no_metrics, "do not read the target's /metrics");
  return [f] { return Bench(*f); };
}

}  // namespace surge::cli

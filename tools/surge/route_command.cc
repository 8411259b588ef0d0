// `surge route`: an OpenAI-compatible router in front of several replicas,
// until SIGTERM/SIGINT, then drain: /health turns 503, no new connections,
// requests in flight finish (up to --drain-timeout), exit 0.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/logging.h"
#include "router/router.h"
#include "tools/surge/commands.h"
#include "tools/surge/stop_signals.h"

namespace surge::cli {
namespace {

struct RouteFlags {
  router::RouterOptions o;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string port_file;
  int http_threads = 1;
  int64_t max_body_bytes = 8 << 20;
  int64_t health_interval_ms = 2000;
  int64_t health_timeout_ms = 1000;
  int64_t eject_base_ms = 2000;
  int64_t eject_max_ms = 30000;
  int64_t connect_timeout_ms = 1000;
  int64_t upstream_timeout_ms = 600000;
  int64_t queue_timeout_ms = 10000;
  int64_t file_poll_ms = 1000;
  int64_t dns_interval_ms = 5000;
  double drain_timeout_s = 30;
};

router::RouterOptions Resolve(RouteFlags f) {
  using std::chrono::milliseconds;
  router::RouterOptions o = std::move(f.o);
  o.http.host = f.host;
  o.http.port = static_cast<uint16_t>(f.port);
  o.http.io_threads = f.http_threads;
  o.http.max_body_bytes = static_cast<size_t>(f.max_body_bytes);
  o.health.interval = milliseconds(f.health_interval_ms);
  o.health.timeout = milliseconds(f.health_timeout_ms);
  o.health.upstream_api_key = o.proxy.upstream_api_key;
  o.breaker.base_ejection = milliseconds(f.eject_base_ms);
  o.breaker.max_ejection = milliseconds(std::max(f.eject_max_ms, f.eject_base_ms));
  o.proxy.connect_timeout = milliseconds(f.connect_timeout_ms);
  o.proxy.upstream_timeout = milliseconds(f.upstream_timeout_ms);
  o.concurrency.queue_timeout = milliseconds(f.queue_timeout_ms);
  o.discovery.file_poll = milliseconds(f.file_poll_ms);
  o.discovery.dns_interval = milliseconds(f.dns_interval_ms);
  return o;
}

int Route(const RouteFlags& f) {
  const StopSignals stop;  // before any thread starts

  if (f.port < 0 || f.port > 65535)
    return Fail("route", absl::InvalidArgumentError("--port out of range"));
  absl::StatusOr<std::unique_ptr<router::Router>> r = router::Router::Create(Resolve(f));
  if (!r.ok()) return Fail("route", r.status());
  if (absl::Status s = (*r)->Start(); !s.ok()) return Fail("route", s);
  if (!f.port_file.empty()) std::ofstream(f.port_file) << (*r)->port() << "\n";
  SURGE_LOG_INFO("routing on http://{}:{}", f.host, (*r)->port());

  stop.Wait(f.drain_timeout_s);
  (*r)->BeginDrain();
  WaitUntilIdle([&] { return (*r)->idle(); }, f.drain_timeout_s);
  (*r)->Stop();
  SURGE_LOG_INFO("stopped");
  return 0;
}

void AddReplicaFlags(CLI::App& app, RouteFlags& f) {
  auto env = [](CLI::Option* o, const std::string& name) { return o->envname("SURGE_" + name); };
  router::DiscoveryOptions& d = f.o.discovery;
  env(app.add_option("--replica", d.urls, "replica URL, e.g. http://10.0.0.5:8000 (repeatable)"),
      "REPLICA");
  env(app.add_option("--replicas-file", d.file,
                     "file of replica URLs, one a line; re-read on change"),
      "REPLICAS_FILE");
  env(app.add_option("--replicas-dns", d.dns,
                     "NAME:PORT resolved periodically (a Kubernetes headless Service)"),
      "REPLICAS_DNS");
  env(app.add_option("--file-poll-ms", f.file_poll_ms, "how often the replicas file is checked")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "FILE_POLL_MS");
  env(app.add_option("--dns-interval-ms", f.dns_interval_ms, "how often the DNS name is resolved")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "DNS_INTERVAL_MS");
  env(app.add_option("--policy", f.o.policy, "prefix|least-load|p2c|round-robin")
          ->capture_default_str(),
      "POLICY");
  env(app.add_option("--prefix-block-bytes", f.o.prefix.block_bytes,
                     "prompt bytes per hashed block (prefix policy)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "PREFIX_BLOCK_BYTES");
  env(app.add_option("--prefix-load-factor", f.o.prefix_policy.load_factor,
                     "prefix policy skips a replica above (1+factor)*mean+slack requests")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "PREFIX_LOAD_FACTOR");
  env(app.add_option("--prefix-load-slack", f.o.prefix_policy.load_slack,
                     "the +slack of that bound")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "PREFIX_LOAD_SLACK");
}

void AddHealthAndRetryFlags(CLI::App& app, RouteFlags& f) {
  auto env = [](CLI::Option* o, const std::string& name) { return o->envname("SURGE_" + name); };
  env(app.add_option("--health-interval-ms", f.health_interval_ms, "active /health check period")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "HEALTH_INTERVAL_MS");
  env(app.add_option("--health-timeout-ms", f.health_timeout_ms, "a health check's time limit")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "HEALTH_TIMEOUT_MS");
  env(app.add_option("--eject-failures", f.o.breaker.failure_threshold,
                     "consecutive failures that eject a replica")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "EJECT_FAILURES");
  env(app.add_option("--eject-base-ms", f.eject_base_ms, "first ejection; doubles while failing")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "EJECT_BASE_MS");
  env(app.add_option("--eject-max-ms", f.eject_max_ms, "longest ejection")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "EJECT_MAX_MS");
  env(app.add_option("--max-attempts", f.o.proxy.max_attempts,
                     "attempts per request (first + retries), each on another replica")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "MAX_ATTEMPTS");
  env(app.add_option("--retry-budget", f.o.retry_budget.ratio,
                     "retries allowed per request over 10 s")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "RETRY_BUDGET");
  env(app.add_option("--retry-min-per-sec", f.o.retry_budget.min_per_second,
                     "retries always allowed per second")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "RETRY_MIN_PER_SEC");
  env(app.add_option("--connect-timeout-ms", f.connect_timeout_ms, "connecting to a replica")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "CONNECT_TIMEOUT_MS");
  env(app.add_option("--upstream-timeout-ms", f.upstream_timeout_ms,
                     "longest silence from a replica while it answers")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "UPSTREAM_TIMEOUT_MS");
}

void AddAdmissionFlags(CLI::App& app, RouteFlags& f) {
  auto env = [](CLI::Option* o, const std::string& name) { return o->envname("SURGE_" + name); };
  router::RateLimits& rl = f.o.rate_limits;
  env(app.add_option("--key-rps", rl.requests_per_second, "requests/s per API key (0 = no limit)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "KEY_RPS");
  env(app.add_option("--key-burst", rl.request_burst, "request burst per key (0 = one second's)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "KEY_BURST");
  env(app.add_option("--key-tps", rl.tokens_per_second,
                     "tokens/s per API key, prompt + max_tokens estimated (0 = no limit)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "KEY_TPS");
  env(app.add_option("--key-token-burst", rl.token_burst, "token burst per key")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "KEY_TOKEN_BURST");
  env(app.add_option("--max-concurrency", f.o.concurrency.max_in_flight,
                     "requests in flight through the router (0 = no cap)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "MAX_CONCURRENCY");
  env(app.add_option("--max-queue", f.o.concurrency.max_queue, "requests waiting for a slot")
          ->capture_default_str(),
      "MAX_QUEUE");
  env(app.add_option("--queue-timeout-ms", f.queue_timeout_ms, "longest wait for a slot (then 503)")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "QUEUE_TIMEOUT_MS");
}

}  // namespace

CommandFn RegisterRoute(CLI::App& app) {
  auto f = std::make_shared<RouteFlags>();
  app.set_config("--config", "", "read flags from a TOML/INI file (keys are flag names)");
  auto env = [](CLI::Option* o, const std::string& name) { return o->envname("SURGE_" + name); };
  env(app.add_option("--host", f->host, "address to listen on")->capture_default_str(), "HOST");
  env(app.add_option("--port", f->port, "port (0 = any free port)")->capture_default_str(), "PORT");
  app.add_option("--port-file", f->port_file, "write the bound port to this file");
  env(app.add_option("--api-key", f->o.api_keys, "accepted API key (repeatable); none = open"),
      "API_KEY");
  env(app.add_option("--upstream-api-key", f->o.proxy.upstream_api_key,
                     "send this key to the replicas instead of the client's"),
      "UPSTREAM_API_KEY");
  env(app.add_option("--http-threads", f->http_threads, "HTTP I/O threads")
          ->check(CLI::PositiveNumber)
          ->capture_default_str(),
      "HTTP_THREADS");
  env(app.add_option("--max-body-bytes", f->max_body_bytes, "request body limit (413 beyond)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "MAX_BODY_BYTES");
  env(app.add_option("--drain-timeout", f->drain_timeout_s, "seconds to finish in-flight work")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      "DRAIN_TIMEOUT");
  AddReplicaFlags(app, *f);
  AddHealthAndRetryFlags(app, *f);
  AddAdmissionFlags(app, *f);
  return [f]() -> int { return Route(*f); };
}

}  // namespace surge::cli

// Latency the router adds to a non-streaming request on loopback: the same
// request sent straight to a stub replica and through an in-process Router
// in front of it, interleaved, with p50/p90/p99 of each and of the
// difference of the medians.
//
// The stub answers at once with a canned chat completion, so the figures
// are the HTTP and routing work alone (a real model adds milliseconds to
// both paths alike). Each request opens its own connection, as the router's
// upstream client does.
//
//   build/<dir>/bench/micro/router_overhead_benchmark --benchmark_min_time=3
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "benchmark/benchmark.h"
#include "router/router.h"
#include "server/http/client.h"
#include "server/http/server.h"

namespace surge::router {
namespace {

namespace http = server::http;

constexpr char kAnswer[] =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[)"
    R"({"index":0,"message":{"role":"assistant","content":"Hello there, how can I help?"},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}})";

const std::string kRequest =
    R"({"model":"m","max_tokens":8,"messages":[{"role":"system","content":")" +
    std::string(400, 's') + R"("},{"role":"user","content":"Say hello."}]})";

std::unique_ptr<http::HttpServer> StartStub() {
  http::ServerOptions o;
  o.port = 0;
  auto s = std::make_unique<http::HttpServer>(o);
  s->Route("GET", "/health", [](auto ex) { ex->Respond(200, "application/json", "{}"); });
  s->Route("GET", "/v1/models", [](auto ex) {
    ex->Respond(200, "application/json", R"({"object":"list","data":[{"id":"m"}]})");
  });
  s->Route("POST", "/v1/chat/completions",
           [](auto ex) { ex->Respond(200, "application/json", kAnswer); });
  if (!s->Start().ok()) return nullptr;
  return s;
}

double Post(uint16_t port) {
  http::ClientRequest req;
  req.method = "POST";
  req.port = port;
  req.target = "/v1/chat/completions";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = kRequest;
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<http::ClientResponse> r = http::Fetch(std::move(req));
  const auto t1 = std::chrono::steady_clock::now();
  if (!r.ok() || r->status != 200) return -1;
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

void BM_RouterAddedLatency(benchmark::State& state) {
  std::unique_ptr<http::HttpServer> stub = StartStub();
  RouterOptions o;
  o.http.port = 0;
  o.policy = "prefix";
  o.discovery.urls = {"http://127.0.0.1:" + std::to_string(stub->port())};
  absl::StatusOr<std::unique_ptr<Router>> router = Router::Create(o);
  if (!router.ok() || !(*router)->Start().ok()) return state.SkipWithError("router did not start");
  while ((*router)->context().Eligible("", {}).empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<double> direct, routed;
  for (auto _ : state) {
    const double d = Post(stub->port());
    const double r = Post((*router)->port());
    if (d < 0 || r < 0) return state.SkipWithError("a request failed");
    direct.push_back(d);
    routed.push_back(r);
    state.SetIterationTime((d + r) * 1e-6);
  }
  state.counters["direct_p50_us"] = Quantile(direct, 0.5);
  state.counters["direct_p99_us"] = Quantile(direct, 0.99);
  state.counters["router_p50_us"] = Quantile(routed, 0.5);
  state.counters["router_p90_us"] = Quantile(routed, 0.9);
  state.counters["router_p99_us"] = Quantile(routed, 0.99);
  state.counters["added_p50_us"] = Quantile(routed, 0.5) - Quantile(direct, 0.5);
  (*router)->Stop();
}
BENCHMARK(BM_RouterAddedLatency)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace surge::router

int main(int argc, char** argv) {
  surge::base::InitLogging(surge::base::LogFormat::kText, "warn");  // no per-request lines
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

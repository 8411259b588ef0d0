// `surge bench` end to end: the real binary against real `surge serve`
// processes on a tiny model (ServeProcess), checking the JSON report, the SVG
// plot, --compare, the refusals, a server that is down or silent, and Ctrl-C.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BenchResult {
  int exit_code = -1;  // -1: killed at the time limit
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs `surge bench <args>` with stdout/stderr in files; SIGKILL after
// `limit_s`. When `interrupt_after_s` > 0, sends SIGINT after that long.
BenchResult RunBench(const std::vector<std::string>& args, int limit_s = 60,
                     double interrupt_after_s = 0) {
  const fs::path dir =
      fs::temp_directory_path() /
      ("surge_bench_e2e_" + std::to_string(getpid()) + "_" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir);
  const std::string out = (dir / "out").string(), err = (dir / "err").string();
  std::vector<std::string> argv_s = {ServeProcess::Binary(), "bench"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  BenchResult r;
  bool interrupted = false;
  int status = 0;
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (interrupt_after_s > 0 && !interrupted && elapsed >= interrupt_after_s) {
      kill(pid, SIGINT);
      interrupted = true;
    }
    if (elapsed > limit_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  fs::remove_all(dir);
  return r;
}

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / ("surge_bench_e2e_" + std::to_string(getpid()) + "_" + name))
      .string();
}

std::string Url(const ServeProcess& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

// Tags open and close in order (enough to catch a truncated or garbled file).
bool TagsBalance(const std::string& xml) {
  std::vector<std::string> stack;
  for (size_t pos = xml.find('<'); pos != std::string::npos; pos = xml.find('<', pos + 1)) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return false;
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    if (tag.empty() || tag[0] == '?' || tag.back() == '/') continue;
    const bool closing = tag[0] == '/';
    if (closing) tag.erase(0, 1);
    tag = tag.substr(0, tag.find_first_of(" \t\n"));
    if (!closing) {
      stack.push_back(tag);
    } else if (stack.empty() || stack.back() != tag) {
      return false;
    } else {
      stack.pop_back();
    }
  }
  return stack.empty();
}

// The figures every successful level must show when each of `requests`
// requests asked for `max_tokens` tokens with ignore_eos.
void ExpectCleanLevel(const json& level, int requests, int max_tokens) {
  SCOPED_TRACE(level.dump().substr(0, 400));
  EXPECT_EQ(level["num_requests"], requests);
  EXPECT_EQ(level["num_ok"], requests);
  EXPECT_EQ(level["num_errors"], 0);
  EXPECT_EQ(level["num_usage_reported"], requests);
  EXPECT_EQ(level["output_tokens"], requests * max_tokens);
  EXPECT_EQ(level["output_tokens_per_request"]["min"], max_tokens);
  EXPECT_EQ(level["output_tokens_per_request"]["max"], max_tokens);
  EXPECT_EQ(level["num_short_outputs"], 0);
  EXPECT_EQ(level["ttft_ms"]["count"], requests);
  EXPECT_EQ(level["e2e_ms"]["count"], requests);
  EXPECT_EQ(level["tpot_ms"]["count"], requests);
  EXPECT_GT(level["ttft_ms"]["min"].get<double>(), 0);
  for (const char* p : {"mean", "p50", "p90", "p99", "max"}) {
    EXPECT_LE(level["ttft_ms"][p].get<double>(), level["e2e_ms"][p].get<double>()) << p;
  }
  EXPECT_GT(level["itl_ms"]["count"].get<int>(), 0);
  EXPECT_LE(level["itl_ms"]["count"].get<int>(), requests * (max_tokens - 1));
  EXPECT_GT(level["output_token_throughput"].get<double>(), 0);
  EXPECT_GT(level["duration_s"].get<double>(), 0);
}

TEST(BenchE2eTest, LevelsAgainstSurgeWithJsonAndPlot) {
  ServeProcess server;
  const std::string json_path = TempPath("levels.json"), svg_path = TempPath("levels.svg");
  const BenchResult r = RunBench({"--url",
                                  Url(server),
                                  "--concurrency",
                                  "1,4",
                                  "--requests",
                                  "8",
                                  "--warmup",
                                  "2",
                                  "--max-tokens",
                                  "8",
                                  "--ignore-eos",
                                  "--prompt-tokens",
                                  "24",
                                  "--shared-prefix-tokens",
                                  "64",
                                  "--slo-ttft-ms",
                                  "60000",
                                  "--json",
                                  json_path,
                                  "--plot",
                                  svg_path,
                                  "--seed",
                                  "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* s : {"c=1", "c=4", "TTFT", "TPOT", "out tok/s", "surge-llama-tiny"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  const json report = json::parse(ReadFile(json_path));
  EXPECT_EQ(report["config"]["levels"], json::array({1, 4}));
  ASSERT_EQ(report["targets"].size(), 1u);
  const json& target = report["targets"][0];
  EXPECT_EQ(target["model"], "surge-llama-tiny");
  ASSERT_EQ(target["levels"].size(), 2u);
  for (const json& level : target["levels"]) {
    ExpectCleanLevel(level, 8, 8);
    // ~64 + ~24 words, one token each on Surge's vocabulary, plus BOS.
    const double prompt = level["prompt_tokens_per_request"]["mean"];
    EXPECT_GT(prompt, 80);
    EXPECT_LT(prompt, 100);
    EXPECT_EQ(level["goodput"].get<double>(), level["request_throughput"].get<double>());
    const json& res = level["resources"];
    EXPECT_GT(res["cpu_cores"].get<double>(), 0) << res;
    EXPECT_GT(res["peak_resident_bytes"].get<double>(), 1e6) << res;
    EXPECT_GT(res["prefix_cache_hit_rate"].get<double>(), 0) << res;
    EXPECT_LE(res["prefix_cache_hit_rate"].get<double>(), 1) << res;
    EXPECT_GT(level["cached_prompt_tokens"].get<int>(), 0);
  }
  const std::string svg = ReadFile(svg_path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_TRUE(TagsBalance(svg));
  EXPECT_NE(svg.find("c=4"), std::string::npos);
  fs::remove(json_path);
  fs::remove(svg_path);
}

TEST(BenchE2eTest, OpenLoopChatDatasetAndNoStream) {
  ServeProcess server;
  const std::string dataset = TempPath("dataset.jsonl"), json_path = TempPath("rate.json");
  {
    std::ofstream out(dataset);
    out << R"({"prompt": "Tell me a story about the sea"})"
        << "\n"
        << R"({"messages": [{"role": "system", "content": "Be brief."}, )"
        << R"({"role": "user", "content": "Name three colours"}]})"
        << "\n";
  }
  BenchResult r =
      RunBench({"--url", Url(server), "--rate", "20", "--requests", "6", "--endpoint", "chat",
                "--dataset", dataset, "--max-tokens", "6", "--ignore-eos", "--json", json_path});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json report = json::parse(ReadFile(json_path));
  const json& level = report["targets"][0]["levels"][0];
  EXPECT_EQ(level["mode"], "rate");
  ExpectCleanLevel(level, 6, 6);

  r = RunBench({"--url", Url(server), "--concurrency", "2", "--requests", "4", "--no-stream",
                "--max-tokens", "5", "--ignore-eos", "--json", json_path});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  report = json::parse(ReadFile(json_path));
  const json& whole = report["targets"][0]["levels"][0];
  EXPECT_EQ(whole["num_ok"], 4);
  EXPECT_EQ(whole["output_tokens"], 20);    // from usage
  EXPECT_EQ(whole["ttft_ms"]["count"], 0);  // no TTFT without streaming
  fs::remove(dataset);
  fs::remove(json_path);
}

TEST(BenchE2eTest, CompareTwoServers) {
  ServeProcess a, b;
  const std::string json_path = TempPath("compare.json");
  const BenchResult r =
      RunBench({"--url", Url(a), "--compare", Url(b), "--concurrency", "1,2", "--requests", "4",
                "--max-tokens", "6", "--ignore-eos", "--prompt-tokens", "16", "--json", json_path});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("ratios B/A"), std::string::npos) << r.out;
  const json report = json::parse(ReadFile(json_path));
  ASSERT_EQ(report["targets"].size(), 2u);
  EXPECT_EQ(report["targets"][0]["url"], Url(a));
  EXPECT_EQ(report["targets"][1]["url"], Url(b));
  for (const json& t : report["targets"]) {
    ASSERT_EQ(t["levels"].size(), 2u);
    for (const json& level : t["levels"]) ExpectCleanLevel(level, 4, 6);
  }
  // Same seed, same load: both servers counted the same prompt tokens.
  EXPECT_EQ(report["targets"][0]["levels"][1]["prompt_tokens"],
            report["targets"][1]["levels"][1]["prompt_tokens"]);
  ASSERT_EQ(report["comparison"].size(), 2u);
  EXPECT_GT(report["comparison"][0]["b_over_a"]["output_token_throughput"].get<double>(), 0);
  fs::remove(json_path);
}

TEST(BenchE2eTest, RefusesRemoteTargetsAndUnboundedRuns) {
  BenchResult r = RunBench({"--url", "http://10.20.30.40:8080", "--requests", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--allow-remote"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a loopback address"), std::string::npos) << r.err;
  r = RunBench(
      {"--url", "http://127.0.0.1:9", "--compare", "http://example.com", "--requests", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--compare"), std::string::npos) << r.err;
  r = RunBench({"--url", "http://127.0.0.1:9"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unbounded"), std::string::npos) << r.err;
  r = RunBench(
      {"--url", "http://127.0.0.1:9", "--requests", "1", "--concurrency", "2", "--rate", "3"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
}

uint16_t ListeningPort(int* fd_out) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::listen(fd, 64);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *fd_out = fd;
  return ntohs(a.sin_port);
}

TEST(BenchE2eTest, DownOrSilentServerGivesErrorCountsNotAHang) {
  int fd = -1;
  const uint16_t port = ListeningPort(&fd);
  ::close(fd);  // nobody listens there now: connections are refused
  const std::string json_path = TempPath("down.json");
  BenchResult r = RunBench({"--url", "http://127.0.0.1:" + std::to_string(port), "--model", "m",
                            "--concurrency", "2", "--requests", "4", "--json", json_path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(r.seconds, 20);
  EXPECT_NE(r.err.find("no request succeeded"), std::string::npos) << r.err;
  json level = json::parse(ReadFile(json_path))["targets"][0]["levels"][0];
  EXPECT_EQ(level["num_errors"], 4);
  EXPECT_EQ(level["errors_by_kind"]["connection"], 4);

  // Accepts connections (the kernel does) but never answers.
  const uint16_t silent = ListeningPort(&fd);
  r = RunBench({"--url", "http://127.0.0.1:" + std::to_string(silent), "--model", "m",
                "--no-metrics", "--concurrency", "2", "--requests", "2", "--timeout-s", "1",
                "--json", json_path});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(r.seconds, 20);
  level = json::parse(ReadFile(json_path))["targets"][0]["levels"][0];
  EXPECT_EQ(level["errors_by_kind"]["timeout"], 2) << level;
  fs::remove(json_path);
}

TEST(BenchE2eTest, CtrlCStopsAtOnceAndStillReports) {
  ServeProcess server;
  const std::string json_path = TempPath("interrupted.json");
  const BenchResult r = RunBench({"--url", Url(server), "--concurrency", "2", "--duration", "300",
                                  "--max-tokens", "32", "--ignore-eos", "--json", json_path},
                                 /*limit_s=*/60, /*interrupt_after_s=*/2.0);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_LT(r.seconds, 15);
  EXPECT_NE(r.out.find("interrupted"), std::string::npos) << r.out;
  const json report = json::parse(ReadFile(json_path));
  EXPECT_EQ(report["interrupted"], true);
  const json& level = report["targets"][0]["levels"][0];
  EXPECT_EQ(level["interrupted"], true);
  EXPECT_GT(level["num_ok"].get<int>(), 0);
  EXPECT_EQ(level["num_errors"], 0);
  fs::remove(json_path);
}

}  // namespace
}  // namespace surge::e2e

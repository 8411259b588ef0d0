// A real `surge serve` process for end-to-end tests: a tiny random model made
// by `surge model init`, the server on port 0, and small libcurl helpers.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace surge::e2e {

struct HttpResult {
  long status = 0;
  std::string body;
  std::vector<std::string> headers;  // "Name: value" lines
  bool ok = false;                   // transport succeeded
};

// A `surge` subcommand that listens (serve, route) as a child process: run
// with `--port-file` in a temporary directory that also takes its stderr,
// waited for until it reports its port. Thread safety: owned by one test.
class SurgeProcess {
 public:
  // `args` follow the binary, e.g. {"serve", "-m", FILE, "--port", "0"}.
  explicit SurgeProcess(std::vector<std::string> args);
  ~SurgeProcess();  // SIGKILLs if still running, removes the directory
  SurgeProcess(const SurgeProcess&) = delete;
  SurgeProcess& operator=(const SurgeProcess&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits for the exit status (or -1 on timeout).
  int SignalAndWait(int sig, int timeout_s = 60);
  // The process's stderr so far.
  std::string Log() const;

  static std::string Binary();  // $SURGE_BINARY, else `surge` on the PATH

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

class ServeProcess : public SurgeProcess {
 public:
  // Starts `surge serve -m <tiny model> --port <port> <extra_args>` and waits
  // for it. Port 0 picks a free port; a fixed port lets a test restart a
  // replica where a router expects it.
  // Without the default model (`with_default_model` false) the extra args
  // name the models (--model NAME=FILE, --models-dir).
  explicit ServeProcess(std::vector<std::string> extra_args = {}, int port = 0,
                        bool with_default_model = true);

  static const std::string& ModelPath();  // made once per test binary
  // Another tiny model (its own random weights), made once per tag;
  // `init_args` go to `surge model init` ("--heads 9").
  static std::string MakeModel(const std::string& tag, int seed, const std::string& init_args = "");
};

HttpResult Get(const std::string& url, const std::vector<std::string>& headers = {});
HttpResult Post(const std::string& url, const std::string& body,
                const std::vector<std::string>& headers = {}, long timeout_s = 120);
// A Post on its own thread, for a test that acts while the request runs.
// For a streamed request, its first body bytes prove the server admitted it.
class BackgroundPost {
 public:
  BackgroundPost(std::string url, std::string body, std::vector<std::string> headers = {});
  ~BackgroundPost();  // waits for the request to end
  BackgroundPost(const BackgroundPost&) = delete;
  BackgroundPost& operator=(const BackgroundPost&) = delete;

  // True once body bytes have arrived; false if the request ended without
  // any, or none came within `timeout`.
  bool WaitForFirstBytes(std::chrono::seconds timeout = std::chrono::seconds(120));
  // The whole response, once the request has ended.
  HttpResult Result();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_bytes_ = false;
  bool done_ = false;
  HttpResult result_;
  std::thread thread_;
};
// Posts and hangs up as soon as the first body bytes arrive (a client that
// disconnects mid-stream). Returns how many body bytes it saw.
size_t PostAndHangUp(const std::string& url, const std::string& body);
// The `data:` payloads of an SSE body, in order.
std::vector<std::string> SseData(const std::string& body);

}  // namespace surge::e2e

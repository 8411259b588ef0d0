#include "tests/e2e/serve_fixture.h"

#include <curl/curl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace surge::e2e {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Where a response body goes: appended, with a call the first time bytes come.
struct BodySink {
  std::string* body;
  const std::function<void()>* on_first_bytes;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  BodySink& sink = *static_cast<BodySink*>(out);
  const bool first = sink.body->empty();
  sink.body->append(data, size * n);
  if (first && sink.on_first_bytes != nullptr && *sink.on_first_bytes) (*sink.on_first_bytes)();
  return size * n;
}

size_t AppendHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) static_cast<std::vector<std::string>*>(out)->push_back(line);
  return size * n;
}

HttpResult Perform(const std::string& url, const std::string* body,
                   const std::vector<std::string>& headers, long timeout_s,
                   const std::function<void()>* on_first_bytes = nullptr) {
  HttpResult r;
  BodySink sink{&r.body, on_first_bytes};
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  if (body != nullptr) list = curl_slist_append(list, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  r.ok = curl_easy_perform(curl) == CURLE_OK;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace

std::string SurgeProcess::Binary() {
  const char* b = std::getenv("SURGE_BINARY");
  return b != nullptr ? b : "surge";
}

const std::string& ServeProcess::ModelPath() {
  static const std::string path = [] {
    std::string p = (std::filesystem::temp_directory_path() /
                     ("surge_e2e_tiny_" + std::to_string(getpid()) + ".gguf"))
                        .string();
    std::string cmd = Binary() + " model init --arch llama --preset tiny --type q8_0 --seed 5 -o " +
                      p + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::atexit([] {});
    return p;
  }();
  return path;
}

std::string ServeProcess::MakeModel(const std::string& tag, int seed,
                                    const std::string& init_args) {
  // Files made here are removed when the test binary exits.
  struct Made : std::map<std::string, std::string> {
    ~Made() {
      for (const auto& [t, path] : *this) std::filesystem::remove(path);
    }
  };
  static std::mutex mu;
  static Made made;
  std::lock_guard<std::mutex> lock(mu);
  auto it = made.find(tag);
  if (it != made.end()) return it->second;
  const std::string p = (std::filesystem::temp_directory_path() /
                         ("surge_e2e_" + tag + "_" + std::to_string(getpid()) + ".gguf"))
                            .string();
  const std::string cmd = Binary() + " model init --arch llama --preset tiny --type q8_0 --seed " +
                          std::to_string(seed) + " " + init_args + " -o " + p + " 2>/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  made[tag] = p;
  return p;
}

SurgeProcess::SurgeProcess(std::vector<std::string> args) {
  dir_ = (std::filesystem::temp_directory_path() /
          ("surge_e2e_" + std::to_string(getpid()) + "_" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
             .string();
  std::filesystem::create_directories(dir_);
  const std::string port_file = dir_ + "/port";
  args.insert(args.begin(), Binary());
  args.push_back("--port-file");
  args.push_back(port_file);
  const std::string log = dir_ + "/stderr";
  pid_ = fork();
  if (pid_ == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 600 && port_ == 0; ++i) {
    std::string p = ReadFile(port_file);
    if (!p.empty() && p.back() == '\n') port_ = std::atoi(p.c_str());
    if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(port_, 0) << args[1] << " did not start: " << Log();
}

SurgeProcess::~SurgeProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::filesystem::remove_all(dir_);
}

std::string SurgeProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string SurgeProcess::Log() const { return ReadFile(dir_ + "/stderr"); }

int SurgeProcess::SignalAndWait(int sig, int timeout_s) {
  kill(pid_, sig);
  for (int i = 0; i < timeout_s * 20; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

namespace {

std::vector<std::string> ServeArgs(std::vector<std::string> extra_args, int port,
                                   bool with_default_model) {
  std::vector<std::string> args = {"serve", "--port", std::to_string(port), "--threads", "2"};
  if (with_default_model) {
    args.push_back("-m");
    args.push_back(ServeProcess::ModelPath());
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return args;
}

}  // namespace

ServeProcess::ServeProcess(std::vector<std::string> extra_args, int port, bool with_default_model)
    : SurgeProcess(ServeArgs(std::move(extra_args), port, with_default_model)) {}

HttpResult Get(const std::string& url, const std::vector<std::string>& headers) {
  return Perform(url, nullptr, headers, 60);
}

HttpResult Post(const std::string& url, const std::string& body,
                const std::vector<std::string>& headers, long timeout_s) {
  return Perform(url, &body, headers, timeout_s);
}

BackgroundPost::BackgroundPost(std::string url, std::string body, std::vector<std::string> headers)
    : thread_([this, url = std::move(url), body = std::move(body), headers = std::move(headers)] {
        const std::function<void()> on_first_bytes = [this] {
          std::lock_guard lock(mu_);
          first_bytes_ = true;
          cv_.notify_all();
        };
        HttpResult r = Perform(url, &body, headers, 120, &on_first_bytes);
        std::lock_guard lock(mu_);
        result_ = std::move(r);
        done_ = true;
        cv_.notify_all();
      }) {}

BackgroundPost::~BackgroundPost() { thread_.join(); }

bool BackgroundPost::WaitForFirstBytes(std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return first_bytes_ || done_; });
  return first_bytes_;
}

HttpResult BackgroundPost::Result() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return result_;
}

size_t PostAndHangUp(const std::string& url, const std::string& body) {
  size_t seen = 0;
  CURL* curl = curl_easy_init();
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // Returning 0 from the write callback makes libcurl abort and close.
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void* out) -> size_t {
        *static_cast<size_t*>(out) += size * n;
        return 0;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
  curl_easy_perform(curl);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return seen;
}

std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  }
  return out;
}

}  // namespace surge::e2e

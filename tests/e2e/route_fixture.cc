#include "tests/e2e/route_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

RouteProcess::RouteProcess(std::vector<std::string> args) {
  dir_ = (std::filesystem::temp_directory_path() /
          ("surge_route_e2e_" + std::to_string(getpid()) + "_" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
             .string();
  std::filesystem::create_directories(dir_);
  const std::string port_file = dir_ + "/port";
  std::vector<std::string> argv_s = {ServeProcess::Binary(), "route",  "--port", "0",
                                     "--port-file",          port_file};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const std::string log = dir_ + "/stderr";
  pid_ = fork();
  if (pid_ == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 600 && port_ == 0; ++i) {
    std::string p = ReadAll(port_file);
    if (!p.empty() && p.back() == '\n') port_ = std::atoi(p.c_str());
    if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(port_, 0) << "router did not start: " << Log();
}

RouteProcess::~RouteProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::filesystem::remove_all(dir_);
}

std::string RouteProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string RouteProcess::Log() const { return ReadAll(dir_ + "/stderr"); }

int RouteProcess::SignalAndWait(int sig, int timeout_s) {
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

}  // namespace surge::e2e

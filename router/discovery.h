// Discovery: where the replicas come from — --replica flags, a replicas file
// (re-read when it changes) and a DNS name (re-resolved periodically, e.g. a
// Kubernetes headless Service).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "router/periodic_task.h"
#include "router/replica_set.h"
#include "server/http/asio.h"

namespace surge::router {

struct DiscoveryOptions {
  std::vector<std::string> urls;  // static replicas
  std::string file;               // one replica URL per line; '#' starts a comment
  std::string dns;                // "name:port"; every address the name resolves to
  base::Duration file_poll = std::chrono::seconds(1);
  base::Duration dns_interval = std::chrono::seconds(5);
};

// Feeds the ReplicaSet one source per kind ("flags", "file", "dns"). A file
// that cannot be read or parsed, or a name that does not resolve, keeps the
// previous list of that source (and logs once per change of state), so a
// bad edit or a DNS hiccup never empties the cluster.
//
// Thread safety: Start() from the controlling thread before the io_context
// runs; afterwards everything runs on the io_context (single-threaded).
class Discovery {
 public:
  Discovery(boost::asio::io_context& ioc, ReplicaSet& replicas, DiscoveryOptions options);

  // Checks the options, loads the flags and the file once (errors here stop
  // the router from starting), and starts the file poll and DNS timers.
  absl::Status Start();

 private:
  absl::Status LoadFile(bool at_start);
  void ResolveDns();

  boost::asio::io_context& ioc_;
  ReplicaSet& replicas_;
  const DiscoveryOptions options_;
  std::string dns_host_;
  uint16_t dns_port_ = 0;
  boost::asio::ip::tcp::resolver resolver_;
  std::unique_ptr<PeriodicTask> file_task_;
  std::unique_ptr<PeriodicTask> dns_task_;
  std::optional<std::string> file_text_;  // last content read
  bool file_error_logged_ = false;
  bool dns_error_logged_ = false;
};

// Parses a replicas file: one address per line (see ParseReplicaUrl), blank
// lines and '#' comments ignored. Errors name the line.
absl::StatusOr<std::vector<ReplicaAddress>> ParseReplicasFile(std::string_view text);

// Splits "name:port" (the port is required).
absl::StatusOr<std::pair<std::string, uint16_t>> ParseDnsTarget(std::string_view target);

}  // namespace surge::router

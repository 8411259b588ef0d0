// ServerCore: the state HttpServer shares with its connections (internal).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/http/asio.h"
#include "server/http/route_table.h"
#include "server/http/server.h"

namespace surge::server::http::detail {

class Connection;

// Owned jointly by HttpServer and every Connection (and so, through
// Exchanges, by handlers): the io_context must outlive every socket, and an
// Exchange may outlive the HttpServer object.
//
// Stop protocol: once MarkStopped() returns, Post() refuses work, so after the
// I/O threads are joined nothing can queue a handler that would keep a
// Connection (and with it this core) alive in a cycle.
//
// Thread safety: thread-safe, except `routes`, which is written before Start()
// and read-only afterwards.
struct ServerCore {
  explicit ServerCore(ServerOptions opts) : options(std::move(opts)) {}

  const ServerOptions options;
  RouteTable routes;
  net::io_context ioc;
  std::atomic<size_t> num_connections{0};
  std::atomic<size_t> num_active_exchanges{0};
  std::atomic<bool> draining{false};

  // Posts fn to `executor` unless the server has stopped; false if refused.
  bool Post(const net::any_io_executor& executor, std::function<void()> fn) {
    absl::ReaderMutexLock lock(&mu_);
    if (stopped_) return false;
    net::post(executor, std::move(fn));
    return true;
  }

  // Registers an open connection; 0 (and nothing registered) once stopped.
  uint64_t Register(std::weak_ptr<Connection> connection) {
    absl::MutexLock lock(&mu_);
    if (stopped_) return 0;
    const uint64_t id = ++next_id_;
    connections_.emplace(id, std::move(connection));
    num_connections.fetch_add(1, std::memory_order_relaxed);
    return id;
  }
  void Unregister(uint64_t id) {
    absl::MutexLock lock(&mu_);
    if (connections_.erase(id) > 0) num_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  std::vector<std::shared_ptr<Connection>> Connections() {
    absl::MutexLock lock(&mu_);
    std::vector<std::shared_ptr<Connection>> out;
    out.reserve(connections_.size());
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) out.push_back(std::move(connection));
    }
    return out;
  }

  void MarkStopped() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }

 private:
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::server::http::detail

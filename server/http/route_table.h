// RouteTable: which handler answers which (method, path).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/http/exchange.h"

namespace surge::server::http {

// Exact-path routes per method, then prefix routes (the longest matching
// prefix wins), plus an optional fallback for everything unrouted. Without a
// fallback, an unknown path gets a 404 and a known path with another method a
// 405 carrying `Allow`, both as OpenAI-shaped JSON.
//
// Thread safety: Add()/SetFallback() only before the server starts;
// Dispatch() is then safe from any number of threads (the table is
// read-only).
class RouteTable {
 public:
  // A later route for the same (method, path) replaces the earlier one.
  void Add(std::string method, std::string path, Handler handler);
  // Paths starting with `prefix` that have no exact route.
  void AddPrefix(std::string method, std::string prefix, Handler handler);
  void SetFallback(Handler handler) { fallback_ = std::move(handler); }

  // Hands the exchange to its handler (or answers 404/405 itself).
  void Dispatch(const std::shared_ptr<Exchange>& exchange) const;

 private:
  using MethodHandlers = std::vector<std::pair<std::string, Handler>>;
  static void AddTo(MethodHandlers& handlers, std::string method, Handler handler);
  const MethodHandlers* Find(const std::string& path) const;

  absl::flat_hash_map<std::string, MethodHandlers> by_path_;
  std::vector<std::pair<std::string, MethodHandlers>> by_prefix_;  // longest first
  Handler fallback_;
};

}  // namespace surge::server::http

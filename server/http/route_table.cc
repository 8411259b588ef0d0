#include "server/http/route_table.h"

#include "absl/strings/str_cat.h"

namespace surge::server::http {

void RouteTable::AddTo(MethodHandlers& handlers, std::string method, Handler handler) {
  for (auto& [known_method, known_handler] : handlers) {
    if (known_method == method) {
      known_handler = std::move(handler);
      return;
    }
  }
  handlers.emplace_back(std::move(method), std::move(handler));
}

void RouteTable::Add(std::string method, std::string path, Handler handler) {
  AddTo(by_path_[path], std::move(method), std::move(handler));
}

void RouteTable::AddPrefix(std::string method, std::string prefix, Handler handler) {
  auto it = by_prefix_.begin();
  while (it != by_prefix_.end() && it->first.size() >= prefix.size() && it->first != prefix) ++it;
  if (it == by_prefix_.end() || it->first != prefix) it = by_prefix_.insert(it, {prefix, {}});
  AddTo(it->second, std::move(method), std::move(handler));
}

const RouteTable::MethodHandlers* RouteTable::Find(const std::string& path) const {
  if (const auto it = by_path_.find(path); it != by_path_.end()) return &it->second;
  for (const auto& [prefix, handlers] : by_prefix_) {
    if (path.compare(0, prefix.size(), prefix) == 0) return &handlers;
  }
  return nullptr;
}

void RouteTable::Dispatch(const std::shared_ptr<Exchange>& exchange) const {
  const Request& request = exchange->request();
  const MethodHandlers* handlers = Find(request.path);
  if (handlers != nullptr) {
    for (const auto& [method, handler] : *handlers) {
      if (method == request.method) {
        handler(exchange);
        return;
      }
    }
  }
  if (fallback_) {
    fallback_(exchange);
    return;
  }
  if (handlers == nullptr) {
    exchange->Respond(404, "application/json",
                      ErrorJson(absl::StrCat("no route for ", request.path), "not_found"));
    return;
  }
  std::string allow;
  for (const auto& entry : *handlers) {
    absl::StrAppend(&allow, allow.empty() ? "" : ", ", entry.first);
  }
  exchange->Respond(405, "application/json",
                    ErrorJson(absl::StrCat("method ", request.method, " not allowed for ",
                                           request.path, " (allowed: ", allow, ")"),
                              "method_not_allowed"),
                    {{"Allow", allow}});
}

}  // namespace surge::server::http

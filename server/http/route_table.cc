#include "server/http/route_table.h"

#include "absl/strings/str_cat.h"

namespace surge::server::http {

void RouteTable::Add(std::string method, std::string path, Handler handler) {
  MethodHandlers& handlers = by_path_[path];
  for (auto& [known_method, known_handler] : handlers) {
    if (known_method == method) {
      known_handler = std::move(handler);
      return;
    }
  }
  handlers.emplace_back(std::move(method), std::move(handler));
}

void RouteTable::Dispatch(const std::shared_ptr<Exchange>& exchange) const {
  const Request& request = exchange->request();
  const auto it = by_path_.find(request.path);
  if (it != by_path_.end()) {
    for (const auto& [method, handler] : it->second) {
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
  if (it == by_path_.end()) {
    exchange->Respond(404, "application/json",
                      ErrorJson(absl::StrCat("no route for ", request.path), "not_found"));
    return;
  }
  std::string allow;
  for (const auto& entry : it->second) {
    absl::StrAppend(&allow, allow.empty() ? "" : ", ", entry.first);
  }
  exchange->Respond(405, "application/json",
                    ErrorJson(absl::StrCat("method ", request.method, " not allowed for ",
                                           request.path, " (allowed: ", allow, ")"),
                              "method_not_allowed"),
                    {{"Allow", allow}});
}

}  // namespace surge::server::http

#include "router/discovery.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "router/text.h"

namespace surge::router {

absl::StatusOr<std::vector<ReplicaAddress>> ParseReplicasFile(std::string_view text) {
  std::vector<ReplicaAddress> out;
  int line_no = 0;
  for (absl::string_view piece : absl::StrSplit(ToAbsl(text), '\n')) {
    ++line_no;
    std::string_view line(piece.data(), piece.size());
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = StripWhitespace(line);
    if (line.empty()) continue;
    absl::StatusOr<ReplicaAddress> a = ParseReplicaUrl(line);
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": ", std::string(a.status().message())));
    }
    out.push_back(*std::move(a));
  }
  return out;
}

absl::StatusOr<std::pair<std::string, uint16_t>> ParseDnsTarget(std::string_view target) {
  const size_t colon = target.rfind(':');
  uint32_t port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !ParseUint(target.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --replicas-dns '", std::string(target),
                     "' (expected NAME:PORT, e.g. "
                     "surge-replicas.default.svc.cluster.local:8000)"));
  }
  return std::make_pair(std::string(target.substr(0, colon)), static_cast<uint16_t>(port));
}

Discovery::Discovery(boost::asio::io_context& ioc, ReplicaSet& replicas, DiscoveryOptions options)
    : ioc_(ioc), replicas_(replicas), options_(std::move(options)), resolver_(ioc) {}

absl::Status Discovery::Start() {
  if (options_.urls.empty() && options_.file.empty() && options_.dns.empty()) {
    return absl::InvalidArgumentError(
        "no replicas: give --replica URL, --replicas-file FILE or --replicas-dns NAME:PORT");
  }
  std::vector<ReplicaAddress> fixed;
  for (const std::string& url : options_.urls) {
    absl::StatusOr<ReplicaAddress> a = ParseReplicaUrl(url);
    if (!a.ok()) return a.status();
    fixed.push_back(*std::move(a));
  }
  replicas_.SetSource("flags", std::move(fixed));
  if (!options_.file.empty()) {
    if (absl::Status s = LoadFile(/*at_start=*/true); !s.ok()) return s;
    file_task_ = std::make_unique<PeriodicTask>(ioc_, options_.file_poll,
                                                [this] { (void)LoadFile(/*at_start=*/false); });
    file_task_->Start();
  }
  if (!options_.dns.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> t = ParseDnsTarget(options_.dns);
    if (!t.ok()) return t.status();
    dns_host_ = t->first;
    dns_port_ = t->second;
    dns_task_ =
        std::make_unique<PeriodicTask>(ioc_, options_.dns_interval, [this] { ResolveDns(); });
    dns_task_->Start();
  }
  return absl::OkStatus();
}

absl::Status Discovery::LoadFile(bool at_start) {
  std::ifstream in(options_.file);
  std::stringstream text;
  text << in.rdbuf();
  absl::Status status;
  if (!in) {
    status = absl::NotFoundError(absl::StrCat("cannot read --replicas-file ", options_.file));
  } else if (text.str() == file_text_) {
    return absl::OkStatus();  // unchanged
  } else if (absl::StatusOr<std::vector<ReplicaAddress>> list = ParseReplicasFile(text.str());
             !list.ok()) {
    status = absl::InvalidArgumentError(
        absl::StrCat(options_.file, ": ", std::string(list.status().message())));
  } else {
    file_text_ = text.str();
    file_error_logged_ = false;
    SURGE_LOG_INFO("route: {} lists {} replicas", options_.file, list->size());
    replicas_.SetSource("file", *std::move(list));
    return absl::OkStatus();
  }
  if (at_start) return status;
  if (!file_error_logged_) {
    SURGE_LOG_WARN("route: {}; keeping the previous list", std::string(status.message()));
    file_error_logged_ = true;
  }
  return status;
}

void Discovery::ResolveDns() {
  resolver_.async_resolve(dns_host_, std::to_string(dns_port_),
                          [this](const server::http::error_code& ec,
                                 const boost::asio::ip::tcp::resolver::results_type& results) {
                            if (ec) {
                              if (!dns_error_logged_) {
                                SURGE_LOG_WARN(
                                    "route: resolving {} failed: {}; keeping the previous list",
                                    dns_host_, ec.message());
                                dns_error_logged_ = true;
                              }
                              return;
                            }
                            dns_error_logged_ = false;
                            std::vector<ReplicaAddress> list;
                            for (const auto& entry : results) {
                              list.push_back({entry.endpoint().address().to_string(), dns_port_});
                            }
                            replicas_.SetSource("dns", std::move(list));
                          });
}

}  // namespace surge::router

// TenantDirectory: API keys -> tenants, and the keys-file watcher.
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "server/tenants.h"

namespace surge::server {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the keys file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TenantDirectory>> TenantDirectory::Create(TenantOptions options,
                                                                         const base::Clock& clock) {
  std::unique_ptr<TenantDirectory> d(new TenantDirectory(std::move(options), clock));
  {
    absl::MutexLock lock(&d->mu_);
    if (d->options_.keys_file.empty()) {
      SURGE_RETURN_IF_ERROR(d->Apply(KeysTable{}));
    } else {
      std::error_code ec;
      d->file_mtime_ = std::filesystem::last_write_time(d->options_.keys_file, ec);
      d->file_size_ = std::filesystem::file_size(d->options_.keys_file, ec);
      absl::StatusOr<std::string> text = ReadWholeFile(d->options_.keys_file);
      if (!text.ok()) return text.status();
      absl::StatusOr<KeysTable> table = ParseKeysFile(*text);
      if (!table.ok()) return table.status();
      SURGE_RETURN_IF_ERROR(d->Apply(*table));
    }
  }
  if (!d->options_.keys_file.empty()) {
    d->watcher_ = std::jthread([p = d.get()] { p->Watch(); });
  }
  return d;
}

TenantDirectory::TenantDirectory(TenantOptions options, const base::Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      anonymous_(std::make_shared<Tenant>(TenantConfig{}, /*labeled=*/false, clock)) {}

TenantDirectory::~TenantDirectory() {
  if (watcher_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    watcher_.join();
  }
}

bool TenantDirectory::open() const {
  absl::MutexLock lock(&mu_);
  return by_key_.empty();
}

std::shared_ptr<Tenant> TenantDirectory::Authenticate(
    const std::optional<std::string>& authorization) const {
  absl::MutexLock lock(&mu_);
  if (by_key_.empty()) return anonymous_;
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization || authorization->compare(0, kBearer.size(), kBearer) != 0) return nullptr;
  auto it = by_key_.find(authorization->substr(kBearer.size()));
  return it == by_key_.end() ? nullptr : it->second;
}

absl::Status TenantDirectory::Apply(const KeysTable& table) {
  absl::flat_hash_map<std::string, std::shared_ptr<Tenant>> by_key, by_name;
  auto tenant_for = [&](const TenantConfig& cfg, bool labeled) {
    std::shared_ptr<Tenant>& slot = by_name[cfg.name];
    if (slot) return slot;
    auto old = by_name_.find(cfg.name);
    if (old != by_name_.end()) {
      old->second->Reconfigure(cfg);
      slot = old->second;
    } else {
      slot = std::make_shared<Tenant>(cfg, labeled, clock_);
    }
    return slot;
  };
  for (const auto& [key, index] : table.tenant_of_key) {
    const TenantConfig& cfg = table.tenants[index];
    by_key[key] = tenant_for(cfg, index < options_.max_labeled_tenants);
  }
  for (size_t i = 0; i < options_.api_keys.size(); ++i) {
    const std::string& key = options_.api_keys[i];
    if (key.empty()) return absl::InvalidArgumentError("--api-key must not be empty");
    if (by_key.contains(key)) continue;  // the keys file names it
    TenantConfig cfg;
    cfg.name = absl::StrCat("api-key-", i + 1);
    by_key[key] = tenant_for(cfg, /*labeled=*/false);
  }
  by_key_ = std::move(by_key);
  by_name_ = std::move(by_name);
  return absl::OkStatus();
}

absl::Status TenantDirectory::ReloadIfChanged() {
  const std::string& path = options_.keys_file;
  if (path.empty()) return absl::OkStatus();
  std::error_code ec1, ec2;
  const auto mtime = std::filesystem::last_write_time(path, ec1);
  const auto size = std::filesystem::file_size(path, ec2);
  if (ec1 || ec2) {
    return absl::NotFoundError(
        absl::StrCat("keys file '", path, "' is gone; keeping the old keys"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (mtime == file_mtime_ && size == file_size_) return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  absl::StatusOr<KeysTable> table = text.ok() ? ParseKeysFile(*text) : text.status();
  absl::MutexLock lock(&mu_);
  file_mtime_ = mtime;
  file_size_ = size;
  if (!table.ok()) return table.status();
  SURGE_RETURN_IF_ERROR(Apply(*table));
  ++num_reloads_;
  SURGE_LOG_INFO("keys file reloaded: {} tenants, {} keys", by_name_.size(), by_key_.size());
  return absl::OkStatus();
}

int64_t TenantDirectory::num_reloads() const {
  absl::MutexLock lock(&mu_);
  return num_reloads_;
}

void TenantDirectory::Watch() {
  std::string last_error;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                           absl::Milliseconds(options_.reload_interval.count()));
      if (stopping_) break;
    }
    absl::Status s = ReloadIfChanged();
    if (!s.ok() && std::string(s.message()) != last_error) {
      SURGE_LOG_WARN("{}", std::string(s.message()));
    }
    last_error = s.ok() ? "" : std::string(s.message());
  }
}

}  // namespace surge::server

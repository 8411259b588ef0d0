// Tenants of `surge serve`: who a request belongs to (from its API key), how
// much of the machine the tenant may take (weight, quotas), and the tenant's
// identity everywhere it matters: the prefix-cache salt, the fair-share id
// of the scheduler, the response-cache key and the metric label.
//
// The keys file (--keys-file, JSON, re-read when its mtime or size changes):
//   {"tenants": [
//     {"name": "acme", "keys": ["sk-acme-1", "sk-acme-2"], "weight": 2,
//      "requests_per_minute": 600, "tokens_per_minute": 200000, "max_concurrent": 16},
//     ...]}
// Every key maps to exactly one tenant; weight (default 1) is the tenant's
// share under contention; a quota of 0 or absent is unlimited. Keys given
// with --api-key are tenants too ("api-key-1", ...; weight 1, no quotas)
// unless the keys file names them. A server with no keys at all is open: every
// request belongs to the anonymous tenant "" (prefix-cache salt 0).
//
// Quotas: requests_per_minute and tokens_per_minute are token buckets that
// hold one minute's worth and refill continuously; tokens (prompt at submit,
// completion at the end) are charged after the fact, so a tenant may run into
// debt and is refused until the bucket is positive again. max_concurrent
// counts requests in flight (a QuotaTicket each). Over a quota: 429, the
// quota named in the message, Retry-After in seconds.
//
// Ownership: TenantDirectory owns the tenants; requests share them
// (std::shared_ptr), so a tenant removed by a reload lives until its last
// request ends.
// Thread safety: thread-safe. The watcher thread (std::jthread, owned by the
// directory) re-reads the keys file.
// Errors: a bad keys file at startup is an InvalidArgument naming the field;
// a bad file on reload is logged and the previous table stays.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/status.h"

namespace surge::server {

struct TenantConfig {
  std::string name;
  double weight = 1.0;
  int64_t requests_per_minute = 0;  // 0: unlimited
  int64_t tokens_per_minute = 0;    // 0: unlimited
  int32_t max_concurrent = 0;       // 0: unlimited
};

struct KeysTable {
  std::vector<TenantConfig> tenants;                       // file order
  absl::flat_hash_map<std::string, size_t> tenant_of_key;  // key -> index in tenants
};

// Parses and validates the keys file's JSON.
[[nodiscard]] absl::StatusOr<KeysTable> ParseKeysFile(std::string_view json);

// The quota a refusal of Tenant::Admit() names ("requests_per_minute",
// "tokens_per_minute", "max_concurrent"); "" for any other status.
std::string QuotaName(const absl::Status& status);

// A bucket holding up to one minute's worth, refilled continuously.
// Not thread-safe (a Tenant guards its buckets).
class MinuteBucket {
 public:
  void Configure(int64_t per_minute, base::TimePoint now);
  bool unlimited() const { return per_minute_ <= 0; }
  void Refill(base::TimePoint now);
  double level() const { return level_; }
  void Take(double amount) { level_ -= amount; }
  // Whole seconds (>= 1) until the level reaches `need`.
  int SecondsUntil(double need) const;

 private:
  int64_t per_minute_ = 0;
  double level_ = 0;
  base::TimePoint last_{};
};

class Tenant;

// A request's hold on its tenant's concurrency slot; releases it when
// destroyed. Move-only.
class QuotaTicket {
 public:
  QuotaTicket() = default;
  explicit QuotaTicket(std::shared_ptr<Tenant> tenant) : tenant_(std::move(tenant)) {}
  QuotaTicket(QuotaTicket&&) = default;
  QuotaTicket& operator=(QuotaTicket&& other) noexcept;
  ~QuotaTicket();

  // Counts tokens against the tenant's tokens_per_minute.
  void ChargeTokens(int64_t tokens);

 private:
  std::shared_ptr<Tenant> tenant_;
};

class Tenant : public std::enable_shared_from_this<Tenant> {
 public:
  Tenant(TenantConfig config, bool labeled, const base::Clock& clock);

  const std::string& name() const { return name_; }
  // The label of the tenant's metrics: its name when it is one of the
  // labeled tenants of the keys file, "other" otherwise (bounded).
  const std::string& metric_label() const { return label_; }
  uint64_t salt() const { return salt_; }
  double weight() const;
  TenantConfig config() const;

  // Checks max_concurrent, requests_per_minute and tokens_per_minute (in that
  // order) and takes a request and a concurrency slot. Over a quota:
  // ResourceExhausted naming it, with Retry-After.
  [[nodiscard]] absl::StatusOr<QuotaTicket> Admit();

  // Used by QuotaTicket and the directory.
  void ChargeTokens(int64_t tokens);
  void ReleaseSlot();
  // New weight and quotas (a reload); buckets keep their level, capped.
  void Reconfigure(TenantConfig config);

 private:
  absl::Status OverQuota(const char* quota, int64_t limit, int retry_after_s) const;

  const std::string name_;
  const uint64_t salt_;
  const base::Clock& clock_;
  const std::string label_;  // fixed when the tenant is made
  mutable absl::Mutex mu_;
  TenantConfig config_ ABSL_GUARDED_BY(mu_);
  MinuteBucket requests_ ABSL_GUARDED_BY(mu_);
  MinuteBucket tokens_ ABSL_GUARDED_BY(mu_);
  int32_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

struct TenantOptions {
  std::string keys_file;              // "": none
  std::vector<std::string> api_keys;  // --api-key
  std::chrono::milliseconds reload_interval{1000};
  size_t max_labeled_tenants = 64;  // the first ones of the file get a metric label
};

class TenantDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<TenantDirectory>> Create(
      TenantOptions options, const base::Clock& clock = base::Clock::System());
  ~TenantDirectory();

  // No keys configured: every request is the anonymous tenant.
  bool open() const;
  // The tenant of an Authorization header ("Bearer KEY"); nullptr when the
  // server has keys and this is none of them (answer 401).
  std::shared_ptr<Tenant> Authenticate(const std::optional<std::string>& authorization) const;
  // Re-reads the keys file if it changed since the last read. The watcher
  // calls it; tests may too.
  absl::Status ReloadIfChanged();
  int64_t num_reloads() const;

 private:
  TenantDirectory(TenantOptions options, const base::Clock& clock);
  absl::Status Apply(const KeysTable& table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Watch();

  const TenantOptions options_;
  const base::Clock& clock_;
  std::shared_ptr<Tenant> anonymous_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Tenant>> by_key_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Tenant>> by_name_ ABSL_GUARDED_BY(mu_);
  std::filesystem::file_time_type file_mtime_ ABSL_GUARDED_BY(mu_){};
  uintmax_t file_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t num_reloads_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::jthread watcher_;
};

}  // namespace surge::server

#include "server/tenants.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "engine/engine.h"
#include "server/openai/errors.h"
#include "server/openai/json_util.h"

namespace surge::server {
namespace {

using openai::JsonIn;

constexpr size_t kMaxNameBytes = 64;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("keys file: ", where, ": ", what));
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '@' || c == ':';
  });
}

absl::Status ReadCount(const JsonIn& t, const char* field, const std::string& where, int64_t max,
                       int64_t* out) {
  auto it = t.find(field);
  if (it == t.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0 ||
      it->get<double>() > static_cast<double>(max) ||
      it->get<double>() != std::floor(it->get<double>())) {
    return Bad(where,
               absl::StrCat("'", field, "' must be a whole number from 0 (unlimited) to ", max));
  }
  *out = static_cast<int64_t>(it->get<double>());
  return absl::OkStatus();
}

absl::Status ReadTenant(const JsonIn& t, const std::string& where, TenantConfig* cfg,
                        std::vector<std::string>* keys) {
  if (!t.is_object()) return Bad(where, "must be an object");
  for (const auto& [field, value] : t.items()) {
    static const char* kKnown[] = {
        "name", "keys", "weight", "requests_per_minute", "tokens_per_minute", "max_concurrent"};
    if (std::find_if(std::begin(kKnown), std::end(kKnown),
                     [&](const char* k) { return field == k; }) == std::end(kKnown)) {
      return Bad(where, absl::StrCat("unknown field '", field.substr(0, 40), "'"));
    }
  }
  auto name = t.find("name");
  if (name == t.end() || !name->is_string() || !ValidName(name->get<std::string>())) {
    return Bad(where, "'name' must be 1-64 characters of letters, digits and - _ . @ :");
  }
  cfg->name = name->get<std::string>();
  if (cfg->name == "other") return Bad(where, "the name 'other' is reserved (a metric label)");
  auto k = t.find("keys");
  if (k == t.end() || !k->is_array() || k->empty()) {
    return Bad(where, "'keys' must be a non-empty array of strings");
  }
  for (const JsonIn& key : *k) {
    if (!key.is_string() || key.get_ref<const std::string&>().empty()) {
      return Bad(where, "every key must be a non-empty string");
    }
    keys->push_back(key.get<std::string>());
  }
  if (auto w = t.find("weight"); w != t.end() && !w->is_null()) {
    if (!w->is_number() || !(w->get<double>() > 0) || w->get<double>() > 1e6) {
      return Bad(where, "'weight' must be a number above 0 and at most 1000000");
    }
    cfg->weight = w->get<double>();
  }
  int64_t concurrent = 0;
  SURGE_RETURN_IF_ERROR(
      ReadCount(t, "requests_per_minute", where, 1'000'000'000, &cfg->requests_per_minute));
  SURGE_RETURN_IF_ERROR(
      ReadCount(t, "tokens_per_minute", where, 1'000'000'000'000, &cfg->tokens_per_minute));
  SURGE_RETURN_IF_ERROR(ReadCount(t, "max_concurrent", where, 1'000'000, &concurrent));
  cfg->max_concurrent = static_cast<int32_t>(concurrent);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KeysTable> ParseKeysFile(std::string_view json) {
  absl::StatusOr<JsonIn> doc = openai::ParseJsonObject(json);
  if (!doc.ok()) return Bad("top level", std::string(doc.status().message()));
  auto tenants = doc->find("tenants");
  if (tenants == doc->end() || !tenants->is_array()) {
    return Bad("top level", "expected {\"tenants\": [...]}");
  }
  KeysTable table;
  for (size_t i = 0; i < tenants->size(); ++i) {
    const std::string where = absl::StrCat("tenants[", i, "]");
    TenantConfig cfg;
    std::vector<std::string> keys;
    SURGE_RETURN_IF_ERROR(ReadTenant((*tenants)[i], where, &cfg, &keys));
    for (const TenantConfig& other : table.tenants) {
      if (other.name == cfg.name) return Bad(where, absl::StrCat("tenant '", cfg.name, "' twice"));
    }
    for (std::string& key : keys) {
      if (!table.tenant_of_key.emplace(std::move(key), table.tenants.size()).second) {
        return Bad(where, "a key appears more than once in the file");
      }
    }
    table.tenants.push_back(std::move(cfg));
  }
  return table;
}

// ---- MinuteBucket ----------------------------------------------------------

void MinuteBucket::Configure(int64_t per_minute, base::TimePoint now) {
  if (per_minute_ <= 0) level_ = static_cast<double>(per_minute);  // new: starts full
  per_minute_ = per_minute;
  level_ = std::min(level_, static_cast<double>(per_minute));
  last_ = now;
}

void MinuteBucket::Refill(base::TimePoint now) {
  if (unlimited()) return;
  const double rate = static_cast<double>(per_minute_) / 60.0;  // per second
  level_ = std::min(static_cast<double>(per_minute_),
                    level_ + rate * std::max(0.0, base::ToSeconds(now - last_)));
  last_ = now;
}

int MinuteBucket::SecondsUntil(double need) const {
  if (unlimited() || level_ >= need) return 1;
  const double rate = static_cast<double>(per_minute_) / 60.0;
  return std::max(1, static_cast<int>(std::ceil((need - level_) / rate)));
}

// ---- QuotaTicket and Tenant ------------------------------------------------

QuotaTicket& QuotaTicket::operator=(QuotaTicket&& other) noexcept {
  if (this != &other) {
    if (tenant_) tenant_->ReleaseSlot();
    tenant_ = std::move(other.tenant_);
  }
  return *this;
}

QuotaTicket::~QuotaTicket() {
  if (tenant_) tenant_->ReleaseSlot();
}

void QuotaTicket::ChargeTokens(int64_t tokens) {
  if (tenant_) tenant_->ChargeTokens(tokens);
}

Tenant::Tenant(TenantConfig config, bool labeled, const base::Clock& clock)
    : name_(config.name),
      salt_(engine::TenantSalt(config.name)),
      clock_(clock),
      label_(labeled ? config.name : "other") {
  Reconfigure(std::move(config));
}

double Tenant::weight() const {
  absl::MutexLock lock(&mu_);
  return config_.weight;
}

TenantConfig Tenant::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

void Tenant::Reconfigure(TenantConfig config) {
  absl::MutexLock lock(&mu_);
  const base::TimePoint now = clock_.Now();
  requests_.Refill(now);
  tokens_.Refill(now);
  requests_.Configure(config.requests_per_minute, now);
  tokens_.Configure(config.tokens_per_minute, now);
  config_ = std::move(config);
}

constexpr char kQuotaPayload[] = "surge/quota";

std::string QuotaName(const absl::Status& status) {
  auto quota = status.GetPayload(kQuotaPayload);
  return quota ? std::string(*quota) : "";
}

absl::Status Tenant::OverQuota(const char* quota, int64_t limit, int retry_after_s) const {
  absl::Status s = openai::WithRetryAfter(
      openai::WithErrorCode(absl::ResourceExhaustedError(
                                absl::StrCat("tenant '", name_, "' is over its ", quota, " quota (",
                                             limit, "); retry in ", retry_after_s, " s")),
                            "rate_limit_exceeded"),
      retry_after_s);
  s.SetPayload(kQuotaPayload, absl::Cord(quota));
  return s;
}

absl::StatusOr<QuotaTicket> Tenant::Admit() {
  {
    absl::MutexLock lock(&mu_);
    const base::TimePoint now = clock_.Now();
    requests_.Refill(now);
    tokens_.Refill(now);
    if (config_.max_concurrent > 0 && in_flight_ >= config_.max_concurrent) {
      return OverQuota("max_concurrent", config_.max_concurrent, 1);
    }
    if (!requests_.unlimited() && requests_.level() < 1) {
      return OverQuota("requests_per_minute", config_.requests_per_minute,
                       requests_.SecondsUntil(1));
    }
    if (!tokens_.unlimited() && tokens_.level() <= 0) {
      return OverQuota("tokens_per_minute", config_.tokens_per_minute, tokens_.SecondsUntil(1));
    }
    if (!requests_.unlimited()) requests_.Take(1);
    ++in_flight_;
  }
  return QuotaTicket(shared_from_this());
}

void Tenant::ChargeTokens(int64_t tokens) {
  absl::MutexLock lock(&mu_);
  if (tokens_.unlimited()) return;
  tokens_.Refill(clock_.Now());
  tokens_.Take(static_cast<double>(tokens));
}

void Tenant::ReleaseSlot() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

}  // namespace surge::server

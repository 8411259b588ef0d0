#include "server/tenants.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "server/openai/errors.h"

namespace surge::server {
namespace {

using std::chrono::seconds;

TEST(KeysFileTest, ParsesTenantsAndKeys) {
  absl::StatusOr<KeysTable> t = ParseKeysFile(R"({"tenants": [
      {"name": "acme", "keys": ["k1", "k2"], "weight": 2, "requests_per_minute": 60,
       "tokens_per_minute": 1000, "max_concurrent": 3},
      {"name": "beta", "keys": ["k3"]}]})");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->tenants.size(), 2u);
  EXPECT_EQ(t->tenants[0].name, "acme");
  EXPECT_EQ(t->tenants[0].weight, 2);
  EXPECT_EQ(t->tenants[0].requests_per_minute, 60);
  EXPECT_EQ(t->tenants[0].tokens_per_minute, 1000);
  EXPECT_EQ(t->tenants[0].max_concurrent, 3);
  EXPECT_EQ(t->tenants[1].weight, 1);
  EXPECT_EQ(t->tenants[1].requests_per_minute, 0);
  EXPECT_EQ(t->tenant_of_key.at("k2"), 0u);
  EXPECT_EQ(t->tenant_of_key.at("k3"), 1u);
}

TEST(KeysFileTest, BadFilesSayWhatIsWrong) {
  struct Case {
    const char* json;
    const char* says;
  } cases[] = {
      {"[]", "top level"},
      {"{}", "tenants"},
      {R"({"tenants": [1]})", "tenants[0]: must be an object"},
      {R"({"tenants": [{"keys": ["k"]}]})", "'name'"},
      {R"({"tenants": [{"name": "a b", "keys": ["k"]}]})", "'name'"},
      {R"({"tenants": [{"name": "other", "keys": ["k"]}]})", "reserved"},
      {R"({"tenants": [{"name": "a"}]})", "'keys'"},
      {R"({"tenants": [{"name": "a", "keys": []}]})", "'keys'"},
      {R"({"tenants": [{"name": "a", "keys": [""]}]})", "non-empty"},
      {R"({"tenants": [{"name": "a", "keys": ["k"], "weight": 0}]})", "'weight'"},
      {R"({"tenants": [{"name": "a", "keys": ["k"], "weight": "2"}]})", "'weight'"},
      {R"({"tenants": [{"name": "a", "keys": ["k"], "requests_per_minute": -1}]})",
       "requests_per_minute"},
      {R"({"tenants": [{"name": "a", "keys": ["k"], "max_concurrent": 1.5}]})", "max_concurrent"},
      {R"({"tenants": [{"name": "a", "keys": ["k"], "request_per_minute": 5}]})", "unknown field"},
      {R"({"tenants": [{"name": "a", "keys": ["k"]}, {"name": "a", "keys": ["j"]}]})", "twice"},
      {R"({"tenants": [{"name": "a", "keys": ["k"]}, {"name": "b", "keys": ["k"]}]})",
       "more than once"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<KeysTable> t = ParseKeysFile(c.json);
    ASSERT_FALSE(t.ok()) << c.json;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(t.status().message()).find(c.says), std::string::npos)
        << c.json << " -> " << t.status();
  }
}

TEST(TenantTest, QuotasRefuseWithTheQuotaNamedAndRetryAfter) {
  base::FakeClock clock;
  TenantConfig cfg{"acme", 1.0, /*rpm=*/2, /*tpm=*/100, /*max_concurrent=*/0};
  auto tenant = std::make_shared<Tenant>(cfg, true, clock);
  ASSERT_TRUE(tenant->Admit().ok());
  ASSERT_TRUE(tenant->Admit().ok());
  absl::StatusOr<QuotaTicket> third = tenant->Admit();
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(QuotaName(third.status()), "requests_per_minute");
  openai::ApiError e = openai::ApiErrorFromStatus(third.status());
  EXPECT_EQ(e.http_status, 429);
  EXPECT_NE(e.message.find("requests_per_minute"), std::string::npos);
  EXPECT_EQ(e.retry_after_seconds, 30);  // 2 per minute: one request every 30 s
  clock.Advance(seconds(30));
  {
    absl::StatusOr<QuotaTicket> t = tenant->Admit();
    ASSERT_TRUE(t.ok());
    t->ChargeTokens(250);  // into debt: 100 - 250
  }
  clock.Advance(seconds(60));  // requests refill; tokens are at -150 + 100 = -50
  absl::StatusOr<QuotaTicket> over = tenant->Admit();
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(QuotaName(over.status()), "tokens_per_minute");
  EXPECT_EQ(openai::ApiErrorFromStatus(over.status()).retry_after_seconds, 31);  // to reach +1
  clock.Advance(seconds(31));
  EXPECT_TRUE(tenant->Admit().ok());
}

TEST(TenantTest, MaxConcurrentCountsTicketsInFlight) {
  base::FakeClock clock;
  TenantConfig cfg{"acme", 1.0, 0, 0, /*max_concurrent=*/2};
  auto tenant = std::make_shared<Tenant>(cfg, true, clock);
  absl::StatusOr<QuotaTicket> a = tenant->Admit();
  absl::StatusOr<QuotaTicket> b = tenant->Admit();
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<QuotaTicket> c = tenant->Admit();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(QuotaName(c.status()), "max_concurrent");
  *a = QuotaTicket();  // the first request ends
  EXPECT_TRUE(tenant->Admit().ok());
}

class TenantDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("surge_keys_" + std::to_string(::getpid()) + ".json"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void Write(const std::string& json, int mtime_offset_s) {
    std::ofstream(path_) << json;
    std::filesystem::last_write_time(
        path_, std::filesystem::file_time_type::clock::now() + seconds(mtime_offset_s));
  }
  std::string path_;
};

TEST_F(TenantDirectoryTest, KeysMapToTenantsAndReloadKeepsState) {
  Write(R"({"tenants": [{"name": "acme", "keys": ["k1"], "max_concurrent": 1}]})", 0);
  TenantOptions o;
  o.keys_file = path_;
  o.api_keys = {"plain"};
  o.reload_interval = std::chrono::hours(1);  // reload by hand
  auto dir = TenantDirectory::Create(o);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_FALSE((*dir)->open());
  std::shared_ptr<Tenant> acme = (*dir)->Authenticate("Bearer k1");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->name(), "acme");
  EXPECT_EQ(acme->metric_label(), "acme");
  std::shared_ptr<Tenant> plain = (*dir)->Authenticate("Bearer plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->name(), "api-key-1");
  EXPECT_EQ(plain->metric_label(), "other");
  EXPECT_NE(plain->salt(), acme->salt());
  EXPECT_EQ((*dir)->Authenticate("Bearer nope"), nullptr);
  EXPECT_EQ((*dir)->Authenticate(std::nullopt), nullptr);
  EXPECT_EQ((*dir)->Authenticate("k1"), nullptr);  // not a bearer token

  absl::StatusOr<QuotaTicket> held = acme->Admit();
  ASSERT_TRUE(held.ok());
  // New weight and a second key; the tenant object (and its in-flight count) stays.
  Write(R"({"tenants": [{"name": "acme", "keys": ["k1", "k2"], "weight": 3,
                          "max_concurrent": 1}]})",
        5);
  ASSERT_TRUE((*dir)->ReloadIfChanged().ok());
  EXPECT_EQ((*dir)->num_reloads(), 1);
  std::shared_ptr<Tenant> again = (*dir)->Authenticate("Bearer k2");
  ASSERT_EQ(again, acme);
  EXPECT_EQ(again->weight(), 3);
  EXPECT_FALSE(again->Admit().ok());  // still one in flight
  // A broken file keeps the old table.
  Write("{broken", 10);
  EXPECT_FALSE((*dir)->ReloadIfChanged().ok());
  EXPECT_EQ((*dir)->Authenticate("Bearer k2"), acme);
  // Unchanged since that failed read: not read again (no log flood).
  EXPECT_TRUE((*dir)->ReloadIfChanged().ok());
  EXPECT_EQ((*dir)->num_reloads(), 1);
}

TEST_F(TenantDirectoryTest, WatcherPicksUpChanges) {
  Write(R"({"tenants": [{"name": "a", "keys": ["k1"]}]})", 0);
  TenantOptions o;
  o.keys_file = path_;
  o.reload_interval = std::chrono::milliseconds(20);
  auto dir = TenantDirectory::Create(o);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ((*dir)->Authenticate("Bearer k9"), nullptr);
  Write(R"({"tenants": [{"name": "a", "keys": ["k1", "k9"]}]})", 3);
  for (int i = 0; i < 200 && (*dir)->Authenticate("Bearer k9") == nullptr; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE((*dir)->Authenticate("Bearer k9"), nullptr);
}

TEST(TenantDirectoryOpenTest, NoKeysMeansOneAnonymousTenant) {
  auto dir = TenantDirectory::Create(TenantOptions{});
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE((*dir)->open());
  std::shared_ptr<Tenant> t = (*dir)->Authenticate(std::nullopt);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name(), "");
  EXPECT_EQ(t->salt(), 0u);
  EXPECT_EQ((*dir)->Authenticate("Bearer anything"), t);
  EXPECT_FALSE(TenantDirectory::Create(TenantOptions{.keys_file = "/nonexistent/keys.json"}).ok());
}

}  // namespace
}  // namespace surge::server

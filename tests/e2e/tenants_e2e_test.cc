// Tenants end to end (the real binary, a keys file): keys map to tenants,
// quotas answer 429 with Retry-After and the quota named, the keys file is
// re-read when it changes, tenant metric labels stay bounded, and the
// prefix cache is salted by the tenant of the keys file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

constexpr char kModel[] = "surge-llama-tiny";

class TenantsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = ::testing::TempDir() + "surge_keys_" + std::to_string(getpid()) + ".json";
  }
  void TearDown() override { std::filesystem::remove(keys_); }

  void WriteKeys(const json& tenants) {
    const std::string tmp = keys_ + ".tmp";
    std::ofstream(tmp) << json{{"tenants", tenants}}.dump(2);
    std::filesystem::rename(tmp, keys_);  // the server never sees half a file
  }

  static std::vector<std::string> Auth(const std::string& key) {
    return {"Authorization: Bearer " + key};
  }

  static json Completion(int max_tokens, const std::string& prompt = "Once upon a time") {
    return {{"model", kModel},
            {"prompt", prompt},
            {"max_tokens", max_tokens},
            {"temperature", 0},
            {"ignore_eos", true}};
  }

  static std::string Header(const HttpResult& r, const std::string& name) {
    for (const std::string& h : r.headers) {
      if (h.size() > name.size() + 1 && strncasecmp(h.c_str(), name.c_str(), name.size()) == 0 &&
          h[name.size()] == ':') {
        return h.substr(name.size() + 2);
      }
    }
    return "";
  }

  std::string keys_;
};

TEST_F(TenantsE2eTest, QuotasAnswer429WithRetryAfterAndTheQuotaNamed) {
  WriteKeys({{{"name", "few"}, {"keys", {"k-few"}}, {"requests_per_minute", 2}},
             {{"name", "one-at-a-time"}, {"keys", {"k-one"}}, {"max_concurrent", 1}},
             {{"name", "thrifty"}, {"keys", {"k-thrifty"}}, {"tokens_per_minute", 20}}});
  ServeProcess server({"--keys-file", keys_});
  const std::string url = server.url("/v1/completions");

  EXPECT_EQ(Post(url, Completion(2).dump()).status, 401);  // no key
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k-unknown")).status, 401);

  // requests_per_minute = 2.
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k-few")).status, 200);
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k-few")).status, 200);
  HttpResult third = Post(url, Completion(2).dump(), Auth("k-few"));
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_NE(third.body.find("requests_per_minute"), std::string::npos) << third.body;
  const std::string retry = Header(third, "Retry-After");
  ASSERT_FALSE(retry.empty());
  EXPECT_GE(std::stoi(retry), 1);
  EXPECT_LE(std::stoi(retry), 30);
  EXPECT_EQ(json::parse(third.body)["error"]["type"], "rate_limit_error");

  // max_concurrent = 1: a second request while the first one runs. The
  // first is streamed, so its first bytes prove it was admitted and holds
  // the slot (the running-requests gauge can still show an earlier request
  // for a moment, and a loaded CI host can take seconds to admit this one).
  json streamed = Completion(400);
  streamed["stream"] = true;
  BackgroundPost slow(url, streamed.dump(), Auth("k-one"));
  ASSERT_TRUE(slow.WaitForFirstBytes()) << slow.Result().body;
  HttpResult second = Post(url, Completion(2).dump(), Auth("k-one"));
  EXPECT_EQ(second.status, 429);
  EXPECT_NE(second.body.find("max_concurrent"), std::string::npos) << second.body;
  const HttpResult first = slow.Result();
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k-one")).status, 200);  // free again

  // tokens_per_minute = 20: the first request (prompt + 16) spends them all.
  EXPECT_EQ(Post(url, Completion(16).dump(), Auth("k-thrifty")).status, 200);
  HttpResult broke = Post(url, Completion(16).dump(), Auth("k-thrifty"));
  EXPECT_EQ(broke.status, 429);
  EXPECT_NE(broke.body.find("tokens_per_minute"), std::string::npos) << broke.body;
  EXPECT_FALSE(Header(broke, "Retry-After").empty());

  // Tenants of the keys file are metric labels; quota refusals are counted.
  const std::string metrics = Get(server.url("/metrics")).body;
  EXPECT_NE(metrics.find(R"(surge:tenant_requests_total{tenant="few",outcome="finished"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(
          R"(surge:tenant_quota_rejections_total{tenant="few",quota="requests_per_minute"} 1)"),
      std::string::npos);
}

TEST_F(TenantsE2eTest, KeysFileIsReloadedWhenItChanges) {
  WriteKeys({{{"name", "a"}, {"keys", {"k1"}}}});
  ServeProcess server({"--keys-file", keys_, "--api-key", "plain-key"});
  const std::string url = server.url("/v1/completions");
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k2")).status, 401);
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("plain-key")).status, 200);
  WriteKeys({{{"name", "a"}, {"keys", {"k1"}}}, {{"name", "b"}, {"keys", {"k2"}}}});
  long status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Post(url, Completion(2).dump(), Auth("k2")).status;
  }
  EXPECT_EQ(status, 200);
  // A broken file keeps the keys that work.
  { std::ofstream(keys_) << "{not json"; }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Post(url, Completion(2).dump(), Auth("k2")).status, 200);
  // --api-key tenants are not labeled: they count under "other".
  const std::string metrics = Get(server.url("/metrics")).body;
  EXPECT_NE(metrics.find(R"(surge:tenant_requests_total{tenant="other",outcome="finished"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(server.Log().find("keys file reloaded"), std::string::npos);
}

TEST_F(TenantsE2eTest, PrefixCacheIsSaltedByTenant) {
  // Two keys of one tenant share cached prompt blocks; another tenant does not.
  WriteKeys({{{"name", "acme"}, {"keys", {"acme-1", "acme-2"}}},
             {{"name", "rival"}, {"keys", {"rival-1"}}}});
  ServeProcess server({"--keys-file", keys_});
  const std::string url = server.url("/v1/completions");
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "word" + std::to_string(i) + " ";
  auto cached = [&](const std::string& key) {
    HttpResult r = Post(url, Completion(2, prompt).dump(), Auth(key));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>();
  };
  EXPECT_EQ(cached("acme-1"), 0);
  EXPECT_EQ(cached("rival-1"), 0);  // same prompt, other tenant: nothing shared
  EXPECT_GT(cached("acme-2"), 0);   // same tenant, other key: shared
}

}  // namespace
}  // namespace surge::e2e

// Flag values and the refusals of ValidateConfig().
#include "bench/load/config.h"

#include "gtest/gtest.h"

namespace surge::bench {
namespace {

BenchConfig Good() {
  BenchConfig c;
  c.url = "http://127.0.0.1:8080";
  c.requests = 10;
  return c;
}

TEST(ConfigTest, IntRanges) {
  EXPECT_EQ(ParseIntRange("128", "--x")->min, 128);
  EXPECT_TRUE(ParseIntRange("128", "--x")->fixed());
  const IntRange r = *ParseIntRange("64:512", "--x");
  EXPECT_EQ(r.min, 64);
  EXPECT_EQ(r.max, 512);
  EXPECT_FALSE(ParseIntRange("512:64", "--x").ok());
  EXPECT_FALSE(ParseIntRange("a", "--x").ok());
  EXPECT_FALSE(ParseIntRange("1:2:3", "--x").ok());
  EXPECT_NE(ParseIntRange("", "--max-tokens").status().message().find("--max-tokens"),
            std::string::npos);
}

TEST(ConfigTest, NumberLists) {
  EXPECT_EQ(*ParseNumberList("1,4,16", "--c"), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ(*ParseNumberList("0.5", "--r"), (std::vector<double>{0.5}));
  EXPECT_FALSE(ParseNumberList("1,,2", "--c").ok());
  EXPECT_FALSE(ParseNumberList("0", "--c").ok());
  EXPECT_FALSE(ParseNumberList("-1", "--c").ok());
  EXPECT_FALSE(ParseNumberList("inf", "--c").ok());
}

TEST(ConfigTest, TargetUrls) {
  TargetUrl t = *ParseTargetUrl("http://127.0.0.1:8080");
  EXPECT_EQ(t.host, "127.0.0.1");
  EXPECT_EQ(t.port, 8080);
  EXPECT_EQ(t.text, "http://127.0.0.1:8080");
  EXPECT_EQ(ParseTargetUrl("http://localhost:1234/v1/")->port, 1234);
  EXPECT_EQ(ParseTargetUrl("http://localhost")->port, 80);
  t = *ParseTargetUrl("http://[::1]:9000/");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.text, "http://[::1]:9000");
  EXPECT_FALSE(ParseTargetUrl("https://127.0.0.1:8080").ok());
  EXPECT_FALSE(ParseTargetUrl("127.0.0.1:8080").ok());
  EXPECT_FALSE(ParseTargetUrl("http://127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseTargetUrl("http://:80").ok());
  EXPECT_FALSE(ParseTargetUrl("http://127.0.0.1:80/other").ok());
  EXPECT_FALSE(ParseTargetUrl("http://[::1:80").ok());
}

TEST(ConfigTest, LoopbackHosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (const char* h : {"10.0.0.1", "0.0.0.0", "127.0.0", "127.0.0.256", "example.com",
                        "localhost.example.com", "127.0.0.1.nip.io", "::2"}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(ConfigTest, ValidConfigPasses) {
  EXPECT_TRUE(ValidateConfig(Good()).ok());
  BenchConfig c = Good();
  c.requests = 0;
  c.duration_s = 5;
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(ConfigTest, UnboundedRunIsRefused) {
  BenchConfig c = Good();
  c.requests = 0;
  const absl::Status s = ValidateConfig(c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--duration"), std::string::npos);
}

TEST(ConfigTest, RemoteTargetNeedsAllowRemote) {
  BenchConfig c = Good();
  c.url = "http://10.1.2.3:8080";
  absl::Status s = ValidateConfig(c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--allow-remote"), std::string::npos);
  c.allow_remote = true;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c = Good();
  c.compare_url = "http://example.com:8080";
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST(ConfigTest, BadValuesAreRefused) {
  auto refused = [](auto mutate) {
    BenchConfig c = Good();
    mutate(c);
    return !ValidateConfig(c).ok();
  };
  EXPECT_TRUE(refused([](BenchConfig& c) { c.levels = {1.5}; }));  // concurrency is whole
  EXPECT_TRUE(refused([](BenchConfig& c) { c.levels = {}; }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.url.clear(); }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.timeout_s = 0; }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.max_tokens = {0, 4}; }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.num_prefixes = 0; }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.shared_prefix_tokens = -1; }));
  EXPECT_TRUE(refused([](BenchConfig& c) { c.slo_ttft_ms = -1; }));
  EXPECT_FALSE(refused([](BenchConfig& c) {
    c.mode = LoadMode::kRate;
    c.levels = {0.5, 2.5};
  }));
}

}  // namespace
}  // namespace surge::bench

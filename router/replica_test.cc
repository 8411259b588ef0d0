#include "router/replica.h"

#include "gtest/gtest.h"
#include "router/discovery.h"
#include "router/health_checker.h"
#include "router/replica_set.h"

namespace surge::router {
namespace {

TEST(ReplicaUrlTest, AcceptedForms) {
  struct Case {
    const char* url;
    const char* host;
    uint16_t port;
    const char* name;
  } cases[] = {
      {"http://10.0.0.1:8000", "10.0.0.1", 8000, "10.0.0.1:8000"},
      {"http://replica-0.svc:8000/", "replica-0.svc", 8000, "replica-0.svc:8000"},
      {"HTTP://host", "host", 80, "host:80"},
      {"127.0.0.1:9", "127.0.0.1", 9, "127.0.0.1:9"},
      {"  http://[::1]:8000  ", "::1", 8000, "[::1]:8000"},
      {"[fe80::1]", "fe80::1", 80, "[fe80::1]:80"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ReplicaAddress> a = ParseReplicaUrl(c.url);
    ASSERT_TRUE(a.ok()) << c.url << ": " << a.status();
    EXPECT_EQ(a->host, c.host);
    EXPECT_EQ(a->port, c.port);
    EXPECT_EQ(a->ToString(), c.name);
  }
}

TEST(ReplicaUrlTest, RejectedForms) {
  for (const char* url : {"", "http://", "https://h:1", "http://h:0", "http://h:70000", "h:x",
                          "http://h:1/v1", "::1:8000", "[::1", "[::1]x", "http://:80"}) {
    absl::StatusOr<ReplicaAddress> a = ParseReplicaUrl(url);
    EXPECT_TRUE(absl::IsInvalidArgument(a.status())) << url;
  }
  EXPECT_NE(ParseReplicaUrl("https://h:1").status().message().find("TLS"), std::string::npos);
}

TEST(ReplicasFileTest, CommentsBlankLinesAndErrors) {
  absl::StatusOr<std::vector<ReplicaAddress>> list =
      ParseReplicasFile("# replicas\n\nhttp://a:1\n  b:2   # second\n");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].ToString(), "b:2");
  absl::StatusOr<std::vector<ReplicaAddress>> bad = ParseReplicasFile("a:1\n\nhttps://b:2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status();
}

TEST(DnsTargetTest, NeedsNameAndPort) {
  absl::StatusOr<std::pair<std::string, uint16_t>> t = ParseDnsTarget("svc.ns.svc:8000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->first, "svc.ns.svc");
  EXPECT_EQ(t->second, 8000);
  for (const char* bad : {"svc", "svc:", ":80", "svc:0", "svc:x"}) {
    EXPECT_FALSE(ParseDnsTarget(bad).ok()) << bad;
  }
}

TEST(ReplicaTest, RoutableOnlyWhenHealthyModelsReadAndNotBackingOff) {
  base::FakeClock clock;
  Replica r({"h", 1}, {.failure_threshold = 1, .base_ejection = std::chrono::seconds(1)});
  EXPECT_FALSE(r.routable(clock.Now()));
  EXPECT_TRUE(r.RecordSuccess(clock.Now()));
  EXPECT_FALSE(r.routable(clock.Now()));  // models not read yet
  r.SetModels(std::vector<ModelEntry>{{"a", "{}"}});
  EXPECT_TRUE(r.routable(clock.Now()));
  EXPECT_TRUE(r.ServesModel("a"));
  EXPECT_TRUE(r.ServesModel(""));
  EXPECT_FALSE(r.ServesModel("b"));
  r.BackOffUntil(clock.Now() + std::chrono::seconds(2));
  EXPECT_FALSE(r.routable(clock.Now()));
  clock.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(r.routable(clock.Now()));
  EXPECT_TRUE(r.RecordFailure(clock.Now()));
  EXPECT_FALSE(r.routable(clock.Now()));
  r.SetModels(std::nullopt);  // unknown: serves everything
  EXPECT_TRUE(r.ServesModel("b"));
}

TEST(ReplicaSetTest, SourcesMergeAndReplicasSurviveReloads) {
  ReplicaSet set({});
  std::vector<std::string> added, removed;
  set.OnChange([&](const auto& a, const auto& r) {
    for (const auto& x : a) added.push_back(x->name());
    for (const auto& x : r) removed.push_back(x->name());
  });
  set.SetSource("flags", {{"a", 1}, {"b", 1}});
  set.SetSource("file", {{"b", 1}, {"c", 1}});
  EXPECT_EQ(added, (std::vector<std::string>{"a:1", "b:1", "c:1"}));
  std::shared_ptr<Replica> b = set.Snapshot()[1];
  b->BeginRequest();
  set.SetSource("flags", {});
  EXPECT_EQ(removed, (std::vector<std::string>{"a:1"}));
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set.Snapshot()[0].get(), b.get());  // still the same object
  EXPECT_EQ(set.Snapshot()[0]->outstanding(), 1);
  set.SetSource("file", {});
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(b->outstanding(), 1);  // a call in flight still holds it
}

TEST(ModelListTest, ParsesIdsAndKeepsObjects) {
  std::optional<std::vector<ModelEntry>> m =
      ParseModelList(R"({"object":"list","data":[{"id":"a","max_model_len":512},{"x":1},7]})");
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].id, "a");
  EXPECT_NE((*m)[0].json.find("max_model_len"), std::string::npos);
  EXPECT_FALSE(ParseModelList("nope").has_value());
  EXPECT_FALSE(ParseModelList(R"({"data":5})").has_value());
}

}  // namespace
}  // namespace surge::router

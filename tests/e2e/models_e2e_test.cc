// Several models in one `surge serve` (the real binary, two tiny models):
// on-demand loading, /v1/models states, the admin API, the memory budget
// with LRU unloading that drains a busy model instead of cutting it, and
// keep_alive.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;

const std::vector<std::string> kAdmin = {"Authorization: Bearer admin-secret"};
// Small KV caches keep each model's memory a few MB above its 27 MB file.
const std::vector<std::string> kCommon = {"--kv-cache-bytes", "8000000", "--admin-key",
                                          "admin-secret"};

std::vector<std::string> Args(std::vector<std::string> extra) {
  std::vector<std::string> args = kCommon;
  args.push_back("--model");
  args.push_back("alpha=" + ServeProcess::MakeModel("alpha", 11));
  args.push_back("--model");
  args.push_back("beta=" + ServeProcess::MakeModel("beta", 12));
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

json Completion(const std::string& model, int max_tokens, json extra = json::object()) {
  json r = {{"model", model},
            {"prompt", "Once upon a time"},
            {"max_tokens", max_tokens},
            {"temperature", 0},
            {"ignore_eos", true}};
  r.update(extra);
  return r;
}

json AdminModels(const ServeProcess& s) {
  HttpResult r = Get(s.url("/admin/models"), kAdmin);
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body, nullptr, false);
}

json ModelState(const ServeProcess& s, const std::string& name) {
  const json all = AdminModels(s);
  for (const json& m : all["models"]) {
    if (m["name"] == name) return m;
  }
  return json::object();
}

// Polls until pred(model status) holds (or ~30 s).
bool WaitForModel(const ServeProcess& s, const std::string& name,
                  const std::function<bool(const json&)>& pred) {
  for (int i = 0; i < 600; ++i) {
    if (pred(ModelState(s, name))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(ModelsE2eTest, ModelsLoadOnDemandAndTheAdminApiControlsThem) {
  ServeProcess server(Args({}), /*port=*/0, /*with_default_model=*/false);
  // Both listed, neither loaded yet.
  json list = json::parse(Get(server.url("/v1/models")).body);
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0]["id"], "alpha");
  EXPECT_EQ(list["data"][0]["state"], "unloaded");
  EXPECT_EQ(list["data"][1]["state"], "unloaded");

  // A request loads its model (and only it).
  HttpResult a = Post(server.url("/v1/completions"), Completion("alpha", 8).dump());
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(json::parse(a.body)["model"], "alpha");
  EXPECT_EQ(ModelState(server, "alpha")["state"], "ready");
  EXPECT_EQ(ModelState(server, "beta")["state"], "unloaded");
  HttpResult b = Post(server.url("/v1/completions"), Completion("beta", 8).dump());
  ASSERT_EQ(b.status, 200) << b.body;
  // Different weights, different text: each request ran on its own model.
  EXPECT_NE(json::parse(a.body)["choices"][0]["text"], json::parse(b.body)["choices"][0]["text"]);
  EXPECT_EQ(Post(server.url("/v1/completions"), Completion("gamma", 8).dump()).status, 404);

  // Admin: unload, then load again.
  EXPECT_EQ(Post(server.url("/admin/models/beta/unload"), "", kAdmin).status, 202);
  ASSERT_TRUE(WaitForModel(server, "beta", [](const json& m) { return m["state"] == "unloaded"; }));
  HttpResult load = Post(server.url("/admin/models/beta/load"), R"({"keep_alive":"-1"})", kAdmin);
  ASSERT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(json::parse(load.body)["state"], "ready");
  EXPECT_EQ(json::parse(load.body)["keep_alive"], "forever");
  EXPECT_GT(json::parse(load.body)["memory_bytes"].get<int64_t>(), 27'000'000);
  json models = AdminModels(server);
  EXPECT_GT(models["memory_used_bytes"].get<int64_t>(), 54'000'000);
  EXPECT_EQ(models["memory_budget_bytes"], 0);
  // Unknown names and actions, and no admin key.
  EXPECT_EQ(Post(server.url("/admin/models/nope/load"), "", kAdmin).status, 404);
  EXPECT_EQ(Post(server.url("/admin/models/beta/explode"), "", kAdmin).status, 404);
  EXPECT_EQ(Get(server.url("/admin/models")).status, 401);
  EXPECT_EQ(Get(server.url("/admin/models"), {"Authorization: Bearer wrong"}).status, 401);
  // The per-model series.
  std::string metrics = Get(server.url("/metrics")).body;
  EXPECT_NE(metrics.find("surge:model_state{model=\"beta\",state=\"ready\"} 1"), std::string::npos)
      << metrics;
}

TEST(ModelsE2eTest, AdminApiIsOffWithoutAnAdminKey) {
  ServeProcess server({"--kv-cache-bytes", "8000000"});
  EXPECT_EQ(Get(server.url("/admin/models"), kAdmin).status, 403);
}

TEST(ModelsE2eTest, BudgetUnloadsTheLeastRecentlyUsedAndDrainsABusyModel) {
  // Measure one model's charge, then allow one and a half.
  int64_t one = 0;
  {
    ServeProcess probe(Args({}), 0, false);
    HttpResult r = Post(probe.url("/admin/models/alpha/load"), "", kAdmin);
    ASSERT_EQ(r.status, 200) << r.body;
    one = json::parse(r.body)["memory_bytes"];
  }
  ServeProcess server(Args({"--max-memory", std::to_string(one * 3 / 2)}), 0, false);
  // A long request keeps alpha busy.
  HttpResult long_a;
  std::jthread a([&] {  // joins on every exit path
    long_a = Post(server.url("/v1/completions"), Completion("alpha", 500).dump());
  });
  ASSERT_TRUE(WaitForModel(server, "alpha", [](const json& m) { return m["in_flight"] == 1; }));
  // beta needs alpha's room: alpha drains (its request goes on), beta waits.
  HttpResult b_result;
  std::jthread b(
      [&] { b_result = Post(server.url("/v1/completions"), Completion("beta", 5).dump()); });
  ASSERT_TRUE(
      WaitForModel(server, "alpha", [](const json& m) { return m["state"] == "draining"; }));
  EXPECT_EQ(ModelState(server, "beta")["state"], "unloaded");
  EXPECT_EQ(ModelState(server, "beta")["waiting"], 1);
  a.join();
  b.join();
  // The busy model was never cut: all 500 tokens arrived.
  ASSERT_EQ(long_a.status, 200) << long_a.body;
  EXPECT_EQ(json::parse(long_a.body)["usage"]["completion_tokens"], 500);
  ASSERT_EQ(b_result.status, 200) << b_result.body;
  EXPECT_EQ(ModelState(server, "alpha")["state"], "unloaded");
  EXPECT_EQ(ModelState(server, "beta")["state"], "ready");
  EXPECT_LE(AdminModels(server)["memory_used_bytes"].get<int64_t>(), one * 3 / 2);
  // Now beta is idle: asking for alpha unloads it at once.
  HttpResult again = Post(server.url("/v1/completions"), Completion("alpha", 5).dump());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(ModelState(server, "alpha")["state"], "ready");
  EXPECT_EQ(ModelState(server, "beta")["state"], "unloaded");
  EXPECT_EQ(ModelState(server, "alpha")["loads"], 2);
  // A model larger than the whole budget is refused with a reason.
  ServeProcess tight(Args({"--max-memory", std::to_string(one / 2)}), 0, false);
  HttpResult too_big = Post(tight.url("/v1/completions"), Completion("alpha", 5).dump());
  EXPECT_EQ(too_big.status, 422) << too_big.body;
  EXPECT_NE(too_big.body.find("--max-memory"), std::string::npos);
}

TEST(ModelsE2eTest, KeepAliveFromTheRequestAndTheFlag) {
  ServeProcess server(Args({"--keep-alive", "1h"}), 0, false);
  // keep_alive 0: unloaded as soon as the request is done.
  HttpResult r =
      Post(server.url("/v1/completions"), Completion("alpha", 4, {{"keep_alive", 0}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(
      WaitForModel(server, "alpha", [](const json& m) { return m["state"] == "unloaded"; }));
  // The flag's 1h: beta stays loaded.
  ASSERT_EQ(Post(server.url("/v1/completions"), Completion("beta", 4).dump()).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json beta = ModelState(server, "beta");
  EXPECT_EQ(beta["state"], "ready");
  EXPECT_EQ(beta["keep_alive"], "1h");
  EXPECT_GT(beta["unload_in_seconds"].get<double>(), 3000);
  // A short keep_alive expires on its own.
  ASSERT_EQ(
      Post(server.url("/v1/completions"), Completion("beta", 4, {{"keep_alive", "500ms"}}).dump())
          .status,
      200);
  ASSERT_TRUE(WaitForModel(server, "beta", [](const json& m) { return m["state"] == "unloaded"; }));
  EXPECT_EQ(
      Post(server.url("/v1/completions"), Completion("beta", 4, {{"keep_alive", "soon"}}).dump())
          .status,
      400);
}

TEST(ModelsE2eTest, TwoBusyModelsBothAnswerCorrectly) {
  // Both models loaded, concurrent streams on each: every answer equals the
  // one the same request gets alone (the compute arbiter shares the cores,
  // batch invariance keeps outputs exact).
  ServeProcess server(Args({"--preload-model", "alpha", "--preload-model", "beta"}), 0, false);
  std::map<std::string, std::string> expected;
  for (const char* m : {"alpha", "beta"}) {
    HttpResult r = Post(server.url("/v1/completions"), Completion(m, 24).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    expected[m] = json::parse(r.body)["choices"][0]["text"];
  }
  std::atomic<int> good{0};
  std::vector<std::jthread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      const std::string m = i % 2 ? "alpha" : "beta";
      HttpResult r = Post(server.url("/v1/completions"), Completion(m, 24).dump());
      if (r.status == 200 && json::parse(r.body)["choices"][0]["text"] == expected[m]) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 16);
}

TEST(ModelsE2eTest, ModelsDirServesEveryGguf) {
  const std::string dir = ::testing::TempDir() + "surge_models_dir_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(ServeProcess::MakeModel("alpha", 11), dir + "/first.gguf",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(ServeProcess::MakeModel("beta", 12), dir + "/second.gguf",
                             std::filesystem::copy_options::overwrite_existing);
  {
    ServeProcess server({"--models-dir", dir, "--kv-cache-bytes", "8000000"}, 0, false);
    json list = json::parse(Get(server.url("/v1/models")).body);
    ASSERT_EQ(list["data"].size(), 2u);
    EXPECT_EQ(list["data"][0]["id"], "first");
    EXPECT_EQ(list["data"][1]["id"], "second");
    EXPECT_EQ(Post(server.url("/v1/completions"), Completion("second", 4).dump()).status, 200);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace surge::e2e

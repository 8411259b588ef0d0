// The job API of the real `surge serve`: submit and follow a training job
// over SSE, cancel one, kill the server and restart it on the same
// --jobs-dir (jobs kept, an interrupted training resumed, an interrupted
// eval failed), and deploy a new model version under load.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/model/gguf_reader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

const std::vector<std::string> kAdmin = {"Authorization: Bearer adm"};

std::string TempDir(const std::string& tag) {
  const std::string dir =
      (fs::temp_directory_path() / ("surge_jobs_e2e_" + tag + "_" + std::to_string(getpid())))
          .string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// English-like text from a fixed vocabulary (deterministic).
std::string MakeText(int sentences) {
  static const char* kWords[] = {"the",   "river", "runs",  "past", "a",     "quiet", "town",
                                 "where", "old",   "boats", "rest", "under", "green", "trees",
                                 "and",   "every", "night", "the",  "moon",  "sings"};
  std::string text;
  uint64_t x = 42;
  for (int s = 0; s < sentences; ++s) {
    const int n = 5 + s % 7;
    for (int w = 0; w < n; ++w) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      text += kWords[(x >> 33) % 20];
      text += w + 1 < n ? " " : ". ";
    }
    if (s % 6 == 5) text += "\n";
  }
  return text;
}

Json Submit(const ServeProcess& s, const Json& spec) {
  HttpResult r = Post(s.url("/v1/jobs"), spec.dump(), kAdmin);
  EXPECT_EQ(r.status, 200) << r.body;
  return Json::parse(r.body, nullptr, false);
}

Json GetJob(const ServeProcess& s, const std::string& id) {
  HttpResult r = Get(s.url("/v1/jobs/" + id), kAdmin);
  EXPECT_EQ(r.status, 200) << r.body;
  return Json::parse(r.body, nullptr, false);
}

// Polls the job until `done(job)` or the timeout; returns the last view.
template <typename Pred>
Json WaitFor(const ServeProcess& s, const std::string& id, Pred done, int timeout_s = 120) {
  Json job;
  for (int i = 0; i < timeout_s * 20; ++i) {
    job = GetJob(s, id);
    if (done(job)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "timed out; job is " << job.dump();
  return job;
}

bool Running(const Json& j) { return j["state"] == "running"; }

class JobsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ + "/corpus.txt") << MakeText(3000);
    std::ofstream(dir_ + "/heldout.txt") << MakeText(20000);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> Flags() {
    return {"--admin-key", "adm", "--jobs-dir", dir_ + "/jobs", "--max-jobs", "2"};
  }
  Json TrainSpec(int steps) {
    return Json{{"kind", "train"},
                {"threads", 1},
                {"args",
                 {{"corpus", dir_ + "/corpus.txt"},
                  {"preset", "micro"},
                  {"steps", steps},
                  {"checkpoint_every", 10},
                  {"output", dir_ + "/micro-" + std::to_string(steps) + ".gguf"}}}};
  }
  std::string dir_;
};

TEST_F(JobsE2eTest, SubmitWatchCancelAndSurviveARestart) {
  std::string trained, cancelled, resumed, interrupted;
  {
    ServeProcess server(Flags());
    // Only the admin key may submit; reads are open on a server without API keys.
    EXPECT_EQ(Post(server.url("/v1/jobs"), TrainSpec(30).dump()).status, 401);
    EXPECT_EQ(Post(server.url("/v1/jobs"),
                   R"({"kind":"train","args":{"corpus":"kjv","preset":"x"}})", kAdmin)
                  .status,
              400);
    trained = Submit(server, TrainSpec(30))["id"];
    // The events stream: replay, progress with the trainer's figures, then the end.
    HttpResult events = Get(server.url("/v1/jobs/" + trained + "/events"));
    ASSERT_EQ(events.status, 200);
    std::vector<std::string> data = SseData(events.body);
    ASSERT_GE(data.size(), 3u) << events.body;
    int progress_with_loss = 0;
    double last_fraction = 0;
    for (const std::string& d : data) {
      Json j = Json::parse(d);
      if (j["progress"]["figures"].contains("loss") && j["progress"]["figures"]["loss"].is_number())
        ++progress_with_loss;
      EXPECT_GE(j["progress"]["fraction"].get<double>(), last_fraction - 1e-9);
      last_fraction = j["progress"]["fraction"];
    }
    EXPECT_GE(progress_with_loss, 2);
    Json last = Json::parse(data.back());
    ASSERT_EQ(last["state"], "succeeded") << last.dump();
    EXPECT_EQ(last["result"]["steps"], 30);
    EXPECT_TRUE(fs::exists(last["result"]["output"].get<std::string>()));

    // Cancel a long training once it runs.
    cancelled = Submit(server, TrainSpec(100000))["id"];
    WaitFor(server, cancelled, Running);
    HttpResult c = Post(server.url("/v1/jobs/" + cancelled + "/cancel"), "", kAdmin);
    EXPECT_EQ(c.status, 200) << c.body;
    Json done = WaitFor(server, cancelled, [](const Json& j) { return j["state"] != "running"; });
    EXPECT_EQ(done["state"], "cancelled");
    EXPECT_EQ(Post(server.url("/v1/jobs/" + cancelled + "/cancel"), "", kAdmin).status, 409);

    // A training and an eval, both running when the server dies.
    resumed = Submit(server, TrainSpec(100000))["id"];
    interrupted = Submit(
        server,
        Json{{"kind", "eval"},
             {"args",
              {{"model", ServeProcess::ModelPath()}, {"text", dir_ + "/heldout.txt"}}}})["id"];
    WaitFor(server, resumed, [](const Json& j) {
      return Running(j) && j["progress"]["figures"].value("step", 0.0) >= 12;  // a checkpoint
    });
    WaitFor(server, interrupted, Running);
    EXPECT_EQ(server.SignalAndWait(SIGKILL), 128 + SIGKILL);
  }
  ServeProcess server(Flags());
  HttpResult list = Get(server.url("/v1/jobs"));
  ASSERT_EQ(list.status, 200);
  std::map<std::string, Json> jobs;
  const Json listed = Json::parse(list.body);
  for (const Json& j : listed["data"]) jobs[j["id"]] = j;
  ASSERT_EQ(jobs.size(), 4u) << list.body;
  EXPECT_EQ(jobs[trained]["state"], "succeeded");
  EXPECT_EQ(jobs[trained]["result"]["steps"], 30);
  EXPECT_EQ(jobs[cancelled]["state"], "cancelled");
  EXPECT_EQ(jobs[interrupted]["state"], "failed");
  EXPECT_EQ(jobs[interrupted]["error"], "interrupted by restart");
  // The training runs again from its checkpoint.
  Json again = WaitFor(server, resumed, [](const Json& j) {
    return Running(j) && j["attempts"] == 2 && j["progress"]["figures"].contains("step");
  });
  EXPECT_GE(again["progress"]["figures"]["step"].get<double>(), 10);
  EXPECT_EQ(Post(server.url("/v1/jobs/" + resumed + "/cancel"), "", kAdmin).status, 200);
  EXPECT_EQ(WaitFor(server, resumed, [](const Json& j) { return !Running(j); })["state"],
            "cancelled");
  EXPECT_EQ(Get(server.url("/v1/jobs/job-99")).status, 404);
}

std::string Complete(const ServeProcess& s, long* status) {
  const Json body = {{"model", "tiny"},
                     {"prompt", "Once upon a time"},
                     {"max_tokens", 12},
                     {"temperature", 0},
                     {"ignore_eos", true}};
  HttpResult r = Post(s.url("/v1/completions"), body.dump(), {}, 120);
  *status = r.ok ? r.status : -1;
  if (r.status != 200) return "";
  return Json::parse(r.body)["choices"][0]["text"];
}

// A copy of `src` whose output norm is NaN: it loads, but cannot generate.
std::string PoisonedCopy(const std::string& src, const std::string& dst) {
  fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
  absl::StatusOr<std::unique_ptr<engine::model::GgufFile>> f = engine::model::GgufFile::Open(dst);
  EXPECT_TRUE(f.ok());
  const engine::model::GgufTensorInfo* t = (*f)->FindTensor("output_norm.weight");
  EXPECT_NE(t, nullptr);
  const uint64_t offset = t->offset, bytes = t->size_bytes;
  f->reset();
  std::fstream out(dst, std::ios::in | std::ios::out | std::ios::binary);
  out.seekp(static_cast<std::streamoff>(offset));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (uint64_t i = 0; i < bytes / sizeof(float); ++i) {
    out.write(reinterpret_cast<const char*>(&nan), sizeof nan);
  }
  return dst;
}

TEST_F(JobsE2eTest, DeployUnderLoadFailsNothingAndSwitchesVersions) {
  ServeProcess server({"--admin-key", "adm", "--model-name", "tiny", "--max-running-seqs", "16",
                       "--jobs-dir", dir_ + "/jobs"});
  long status = 0;
  const std::string v1 = Complete(server, &status);
  ASSERT_EQ(status, 200);

  // A broken version is refused by the health check; v1 keeps serving.
  const std::string bad =
      PoisonedCopy(ServeProcess::MakeModel("deploy_v2", 77), dir_ + "/bad.gguf");
  const std::string bad_id =
      Submit(server, Json{{"kind", "deploy"}, {"args", {{"model", "tiny"}, {"file", bad}}}})["id"];
  Json failed = WaitFor(server, bad_id, [](const Json& j) { return j["state"] == "failed"; });
  EXPECT_NE(failed["error"].get<std::string>().find("health check"), std::string::npos)
      << failed.dump();
  EXPECT_EQ(Complete(server, &status), v1);

  constexpr int kRequests = 200, kClients = 8;
  std::atomic<int> next{0}, done{0};
  std::mutex mu;
  std::vector<std::pair<long, std::string>> results(kRequests);
  std::atomic<bool> deployed{false};
  std::vector<int> after_deploy;  // requests started once the deploy had succeeded
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = next++; i < kRequests; i = next++) {
        // Keep the last quarter for after the switch, however slow the deploy.
        while (i >= kRequests * 3 / 4 && !deployed.load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        const bool after = deployed.load();
        results[i].second = Complete(server, &results[i].first);
        ++done;
        if (after) {
          std::lock_guard<std::mutex> lock(mu);
          after_deploy.push_back(i);
        }
      }
    });
  }
  while (done.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string v2_file = ServeProcess::MakeModel("deploy_v2", 77);
  const std::string id = Submit(
      server, Json{{"kind", "deploy"}, {"args", {{"model", "tiny"}, {"file", v2_file}}}})["id"];
  Json job = WaitFor(server, id, [](const Json& j) {
    return j["state"] == "succeeded" || j["state"] == "failed";
  });
  deployed = true;
  const int done_at_switch = done.load();
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["result"]["new_file"], v2_file);
  EXPECT_EQ(job["result"]["drained"], true);

  const std::string v2 = Complete(server, &status);
  ASSERT_EQ(status, 200);
  ASSERT_NE(v1, v2);  // different weights, different greedy text
  int failures = 0, old_version = 0, new_version = 0;
  for (const auto& [st, text] : results) {
    if (st != 200) ++failures;
    old_version += text == v1;
    new_version += text == v2;
  }
  std::printf("deploy under load: %d requests, %d failed, %d old, %d new; switched after %d\n",
              kRequests, failures, old_version, new_version, done_at_switch);
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(old_version + new_version, kRequests);  // every answer is one version's
  EXPECT_GT(old_version, 0);
  EXPECT_GT(new_version, 0);
  for (int i : after_deploy) EXPECT_EQ(results[i].second, v2) << "request " << i;
  HttpResult models = Get(server.url("/admin/models"), kAdmin);
  EXPECT_NE(models.body.find(v2_file), std::string::npos) << models.body;
}

}  // namespace
}  // namespace surge::e2e

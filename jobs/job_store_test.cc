#include "jobs/job_store.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobs/job_args.h"
#include "jobs/job_manager.h"

namespace surge::jobs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const std::string dir =
      (fs::temp_directory_path() / ("surge-job-store-" + std::to_string(getpid()) + "-" + name))
          .string();
  fs::remove_all(dir);
  return dir;
}

JobInfo Sample(uint64_t seq, JobState state) {
  JobInfo info;
  info.seq = seq;
  info.id = JobId(seq);
  info.spec.kind = "loop";
  info.spec.args = Json{{"steps", 3}, {"path", "/tmp/x"}};
  info.spec.threads = 2;
  info.spec.priority = 3;
  info.spec.name = "sample";
  info.state = state;
  info.progress.fraction = 0.25;
  info.progress.figures["loss"] = 1.5;
  info.progress.message = "working";
  info.attempts = 1;
  info.created_at = 1700000000;
  return info;
}

TEST(JobStoreTest, SavesAndLoadsJobsAndSetsBadFilesAside) {
  const std::string dir = FreshDir("roundtrip");
  absl::StatusOr<JobStore> store = JobStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  JobInfo done = Sample(2, JobState::kSucceeded);
  done.result = Json{{"perplexity", 12.5}};
  ASSERT_TRUE(store->Save(Sample(1, JobState::kRunning)).ok());
  ASSERT_TRUE(store->Save(done).ok());
  std::ofstream(fs::path(dir) / "job-7.json") << "{\"state\": \"running\", \"seq\":";  // torn
  std::ofstream(fs::path(dir) / "job-8.json") << ToJson(Sample(3, JobState::kQueued)).dump();

  absl::StatusOr<JobStore::Loaded> loaded = store->LoadAll();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->jobs.size(), 2u);
  const JobInfo& a = loaded->jobs[0];
  EXPECT_EQ(a.id, "job-1");
  EXPECT_EQ(a.state, JobState::kRunning);
  EXPECT_EQ(a.spec.kind, "loop");
  EXPECT_EQ(a.spec.args["steps"], 3);
  EXPECT_EQ(a.spec.threads, 2);
  EXPECT_EQ(a.spec.priority, 3);
  EXPECT_EQ(a.spec.name, "sample");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.25);
  EXPECT_DOUBLE_EQ(a.progress.figures.at("loss"), 1.5);
  EXPECT_EQ(a.created_at, 1700000000);
  EXPECT_EQ(loaded->jobs[1].result["perplexity"], 12.5);
  // The torn file and the one holding another job's id are set aside, not lost.
  ASSERT_EQ(loaded->corrupt.size(), 2u);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "job-7.json.corrupt"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "job-8.json.corrupt"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "job-1.json.tmp"));
  fs::remove_all(dir);
}

// A kind that counts to `steps`, one step per 20 ms, and can resume: its
// work dir keeps the last step done.
class CountKind : public JobKind {
 public:
  explicit CountKind(bool resumable) : resumable_(resumable) {}
  std::string name() const override { return resumable_ ? "count" : "count-once"; }
  bool resumable() const override { return resumable_; }
  absl::Status Validate(const Json& args) const override {
    ArgReader r(args, name());
    r.Int("steps", 1, 1000);
    return r.Finish();
  }
  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    const int64_t steps = ctx.args()["steps"];
    const fs::path mark = fs::path(ctx.work_dir()) / "step";
    int64_t step = 0;
    if (std::ifstream in(mark); in) in >> step;
    const int64_t first = step;
    for (; step < steps; ++step) {
      if (ctx.cancelled()) return absl::CancelledError("stopped");
      std::ofstream(mark) << step;
      ctx.ReportProgress(JobProgress{static_cast<double>(step) / steps, -1, {}, "counting"});
      absl::SleepFor(absl::Milliseconds(20));
    }
    return Json{{"first_step", first}, {"attempt", ctx.attempt()}};
  }

 private:
  bool resumable_;
};

std::unique_ptr<JobManager> MakeManager(const std::string& dir) {
  JobManagerOptions o;
  o.state_dir = dir;
  o.max_jobs = 2;
  o.save_interval = std::chrono::milliseconds(50);
  std::vector<std::unique_ptr<JobKind>> kinds;
  kinds.push_back(std::make_unique<CountKind>(true));
  kinds.push_back(std::make_unique<CountKind>(false));
  absl::StatusOr<std::unique_ptr<JobManager>> m = JobManager::Create(o, std::move(kinds));
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

JobSpec Count(const std::string& kind, int steps) {
  JobSpec s;
  s.kind = kind;
  s.args = Json{{"steps", steps}};
  return s;
}

TEST(JobManagerRestartTest, ARestartResumesOrFailsInterruptedJobsAndKeepsTheRest) {
  const std::string dir = FreshDir("restart");
  std::string done_id, resumable_id, once_id, queued_id;
  {
    auto m = MakeManager(dir);
    m->Start();
    done_id = m->Submit(Count("count", 1))->id;
    ASSERT_EQ(m->Wait(done_id)->state, JobState::kSucceeded);
    resumable_id = m->Submit(Count("count", 200))->id;
    once_id = m->Submit(Count("count-once", 200))->id;
    queued_id = m->Submit(Count("count", 2))->id;  // waits: max_jobs is 2
    while (m->Get(resumable_id)->progress.fraction < 0.02 ||
           m->Get(once_id)->progress.fraction < 0.02) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    m->Stop();  // as a SIGTERM would; the files still say "running"
  }
  auto m = MakeManager(dir);
  // Before Start: what the restart made of each job.
  EXPECT_EQ(m->Get(done_id)->state, JobState::kSucceeded);
  EXPECT_EQ(m->Get(done_id)->result["attempt"], 1);
  EXPECT_EQ(m->Get(resumable_id)->state, JobState::kQueued);
  EXPECT_THAT(m->Get(resumable_id)->progress.message, HasSubstr("resume"));
  EXPECT_EQ(m->Get(once_id)->state, JobState::kFailed);
  EXPECT_EQ(m->Get(once_id)->error, "interrupted by restart");
  EXPECT_EQ(m->Get(queued_id)->state, JobState::kQueued);
  m->Start();
  absl::StatusOr<JobInfo> resumed = m->Wait(resumable_id);
  ASSERT_EQ(resumed->state, JobState::kSucceeded);
  EXPECT_EQ(resumed->attempts, 2);
  EXPECT_EQ(resumed->result["attempt"], 2);
  EXPECT_GT(resumed->result["first_step"].get<int>(), 0);  // continued, not restarted
  EXPECT_EQ(m->Wait(queued_id)->state, JobState::kSucceeded);
  // New ids continue after the old ones.
  EXPECT_EQ(m->Submit(Count("count", 1))->id, "job-5");
  m->Stop();
  fs::remove_all(dir);
}

TEST(JobManagerRestartTest, AJobFileLeftRunningByACrashIsNeverLost) {
  const std::string dir = FreshDir("crash");
  {
    absl::StatusOr<JobStore> store = JobStore::Open(dir);
    ASSERT_TRUE(store.ok());
    JobInfo crashed = Sample(4, JobState::kRunning);
    crashed.spec.kind = "count-once";
    crashed.spec.args = Json{{"steps", 5}};
    ASSERT_TRUE(store->Save(crashed).ok());
    JobInfo unknown = Sample(5, JobState::kQueued);
    unknown.spec.kind = "teleport";
    ASSERT_TRUE(store->Save(unknown).ok());
  }
  auto m = MakeManager(dir);
  EXPECT_EQ(m->Get("job-4")->state, JobState::kFailed);
  EXPECT_EQ(m->Get("job-4")->error, "interrupted by restart");
  EXPECT_EQ(m->Get("job-5")->state, JobState::kFailed);
  EXPECT_THAT(m->Get("job-5")->error, HasSubstr("'teleport' is not available"));
  // The verdicts are on disk too.
  absl::StatusOr<JobStore::Loaded> loaded = JobStore::Open(dir)->LoadAll();
  ASSERT_EQ(loaded->jobs.size(), 2u);
  EXPECT_EQ(loaded->jobs[0].state, JobState::kFailed);
  EXPECT_EQ(loaded->jobs[1].state, JobState::kFailed);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace surge::jobs

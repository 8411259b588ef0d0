#include "jobs/job_manager.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobs/job_args.h"

namespace surge::jobs {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Test kinds are driven through named gates: a "gated" job reports progress,
// then waits until its gate opens (or it is cancelled).
class Gates {
 public:
  void Open(const std::string& name) {
    absl::MutexLock lock(&mu_);
    open_.insert(name);
  }
  // True when opened, false when cancelled.
  bool Wait(const std::string& name, const JobContext& ctx) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return open_.contains(name) || ctx.cancelled();
    };
    while (!ready()) mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(5));
    return open_.contains(name);
  }
  void Started(const std::string& name) {
    absl::MutexLock lock(&mu_);
    started_.push_back(name);
    ++running_;
    max_running_ = std::max(max_running_, running_);
  }
  void Ended() {
    absl::MutexLock lock(&mu_);
    --running_;
  }
  std::vector<std::string> started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  int max_running() {
    absl::MutexLock lock(&mu_);
    return max_running_;
  }
  void WaitStarted(size_t n) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_.size() >= n; };
    mu_.Await(absl::Condition(&ready));
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> open_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> started_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int max_running_ ABSL_GUARDED_BY(mu_) = 0;
};

// Args: gate (required), fail (message), resumable kinds report the attempt.
class GatedKind : public JobKind {
 public:
  GatedKind(Gates* gates, std::string name, bool resumable)
      : gates_(gates), name_(std::move(name)), resumable_(resumable) {}
  std::string name() const override { return name_; }
  bool resumable() const override { return resumable_; }
  absl::Status Validate(const Json& args) const override {
    ArgReader r(args, name_);
    r.RequiredString("gate");
    r.String("fail");
    return r.Finish();
  }
  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    const std::string gate = ctx.args()["gate"];
    gates_->Started(gate);
    ctx.ReportProgress(JobProgress{0.5, -1, {{"loss", 2.5}}, "halfway"});
    const bool opened = gates_->Wait(gate, ctx);
    gates_->Ended();
    if (!opened) return absl::CancelledError("stopped at the gate");
    if (ctx.args().contains("fail"))
      return absl::InternalError(ctx.args()["fail"].get<std::string>());
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    return Json{{"gate", gate},
                {"attempt", ctx.attempt()},
                {"nice", nice},
                {"threads", ctx.threads()},
                {"work_dir", ctx.work_dir()}};
  }

 private:
  Gates* gates_;
  std::string name_;
  bool resumable_;
};

class JobManagerTest : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove_all(TempDir()); }
  std::unique_ptr<JobManager> Make(int max_jobs) {
    JobManagerOptions o;
    o.max_jobs = max_jobs;
    o.state_dir = TempDir();  // (also holds the work dirs)
    o.progress_interval = std::chrono::milliseconds(0);
    std::vector<std::unique_ptr<JobKind>> kinds;
    kinds.push_back(std::make_unique<GatedKind>(&gates_, "gated", false));
    kinds.push_back(std::make_unique<GatedKind>(&gates_, "resumable", true));
    absl::StatusOr<std::unique_ptr<JobManager>> m = JobManager::Create(o, std::move(kinds));
    EXPECT_TRUE(m.ok()) << m.status();
    (*m)->Start();
    return *std::move(m);
  }
  static JobSpec Spec(const std::string& gate, int priority = kDefaultPriority,
                      std::string kind = "gated") {
    JobSpec s;
    s.kind = std::move(kind);
    s.args = Json{{"gate", gate}};
    s.priority = priority;
    return s;
  }
  static std::string TempDir() {
    return (fs::temp_directory_path() /
            ("surge-jobs-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
        .string();
  }

  Gates gates_;
};

TEST_F(JobManagerTest, RunsAJobThroughItsStatesWithProgressAndResult) {
  auto m = Make(1);
  ASSERT_TRUE(m->Submit(Spec("blocker")).ok());  // keeps the next one queued while we subscribe
  absl::StatusOr<JobInfo> info = m->Submit(Spec("a"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->id, "job-2");
  EXPECT_EQ(info->state, JobState::kQueued);
  absl::StatusOr<std::shared_ptr<JobEventStream>> events = m->Subscribe(info->id);
  ASSERT_TRUE(events.ok());
  gates_.Open("blocker");
  gates_.WaitStarted(2);
  gates_.Open("a");
  absl::StatusOr<JobInfo> done = m->Wait(info->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->result["gate"], "a");
  EXPECT_EQ(done->attempts, 1);
  EXPECT_DOUBLE_EQ(done->progress.fraction, 1.0);
  EXPECT_GT(done->finished_at, 0);

  std::vector<std::string> seen;
  bool saw_figures = false;
  while (std::optional<JobEvent> e = (*events)->Next(absl::Seconds(5))) {
    seen.push_back(absl::StrCat(ToString(e->type), ":", ToString(e->info.state)));
    if (e->info.progress.figures.contains("loss")) saw_figures = true;
    if (e->terminal()) break;
  }
  EXPECT_THAT(seen,
              ElementsAre("state:queued", "state:running", "progress:running", "state:succeeded"));
  EXPECT_TRUE(saw_figures);
}

TEST_F(JobManagerTest, RejectsBadSpecsWithClearErrors) {
  auto m = Make(1);
  JobSpec s = Spec("a", kDefaultPriority, "nope");
  EXPECT_THAT(m->Submit(s).status().message(), HasSubstr("unknown job kind 'nope'"));
  s = Spec("a");
  s.args = Json{{"gate", "a"}, {"speed", 3}};
  absl::Status st = m->Submit(s).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("unknown argument 'speed'"));
  s = Spec("a");
  s.args = Json::object();
  EXPECT_THAT(m->Submit(s).status().message(), HasSubstr("'gate' is required"));
  s = Spec("a", 12);
  EXPECT_THAT(m->Submit(s).status().message(), HasSubstr("priority"));
  EXPECT_TRUE(m->List().empty());
  EXPECT_EQ(m->Get("job-9").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobManagerTest, RunsAtMostMaxJobsAtOnce) {
  auto m = Make(2);
  std::vector<std::string> ids;
  for (const char* g : {"a", "b", "c", "d"}) ids.push_back(m->Submit(Spec(g))->id);
  gates_.WaitStarted(2);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(m->num_running(), 2);
  EXPECT_EQ(gates_.started().size(), 2u);
  for (const char* g : {"a", "b", "c", "d"}) gates_.Open(g);
  for (const std::string& id : ids) EXPECT_EQ(m->Wait(id)->state, JobState::kSucceeded);
  EXPECT_EQ(gates_.max_running(), 2);
}

TEST_F(JobManagerTest, StartsQueuedJobsByPriorityThenSubmissionOrder) {
  auto m = Make(1);
  const std::string blocker = m->Submit(Spec("blocker", 9))->id;
  gates_.WaitStarted(1);
  std::vector<std::string> ids;
  for (auto [gate, prio] : std::vector<std::pair<const char*, int>>{
           {"p7", 7}, {"p3a", 3}, {"p5", 5}, {"p3b", 3}, {"p0", 0}}) {
    ids.push_back(m->Submit(Spec(gate, prio))->id);
    gates_.Open(gate);
  }
  gates_.Open("blocker");
  for (const std::string& id : ids) EXPECT_EQ(m->Wait(id)->state, JobState::kSucceeded);
  EXPECT_THAT(gates_.started(), ElementsAre("blocker", "p0", "p3a", "p3b", "p5", "p7"));
  EXPECT_EQ(m->Get(blocker)->state, JobState::kSucceeded);
}

TEST_F(JobManagerTest, CancelsQueuedAndRunningJobs) {
  auto m = Make(1);
  const std::string running = m->Submit(Spec("r"))->id;
  const std::string queued = m->Submit(Spec("q"))->id;
  gates_.WaitStarted(1);
  absl::StatusOr<JobInfo> q = m->Cancel(queued);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->state, JobState::kCancelled);
  absl::StatusOr<JobInfo> r = m->Cancel(running);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->progress.message, "cancelling");
  absl::StatusOr<JobInfo> done = m->Wait(running);
  EXPECT_EQ(done->state, JobState::kCancelled);
  EXPECT_THAT(done->error, HasSubstr("stopped at the gate"));
  EXPECT_EQ(m->Cancel(running).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gates_.started().size(), 1u);  // the queued one never ran
}

TEST_F(JobManagerTest, AFailingJobIsFailedWithItsReason) {
  auto m = Make(1);
  JobSpec s = Spec("f");
  s.args["fail"] = "out of cheese";
  const std::string id = m->Submit(s)->id;
  gates_.Open("f");
  absl::StatusOr<JobInfo> done = m->Wait(id);
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_EQ(done->error, "out of cheese");
  EXPECT_TRUE(done->result.is_null());
}

TEST_F(JobManagerTest, JobThreadsTakeTheirNiceFromThePriority) {
  auto m = Make(1);
  JobSpec s = Spec("n", 4);
  s.threads = 3;
  const std::string id = m->Submit(s)->id;
  gates_.Open("n");
  absl::StatusOr<JobInfo> done = m->Wait(id);
  ASSERT_EQ(done->state, JobState::kSucceeded);
  const int before = getpriority(PRIO_PROCESS, 0);  // this process's nice is not changed
  EXPECT_EQ(done->result["nice"], std::min(19, std::max(before, 10 + 4)));
  EXPECT_EQ(done->result["threads"], 3);
  EXPECT_TRUE(fs::is_directory(done->result["work_dir"].get<std::string>()));
}

TEST_F(JobManagerTest, LateSubscribersGetTheLatestProgressFirst) {
  auto m = Make(1);
  const std::string id = m->Submit(Spec("late"))->id;
  gates_.WaitStarted(1);
  // Progress is reported right after the start; wait until it is visible.
  while (m->Get(id)->progress.figures.empty()) absl::SleepFor(absl::Milliseconds(2));
  auto events = *m->Subscribe(id);
  std::optional<JobEvent> first = events->TryNext();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->info.state, JobState::kRunning);
  EXPECT_DOUBLE_EQ(first->info.progress.figures.at("loss"), 2.5);
  EXPECT_EQ(first->info.progress.message, "halfway");
  gates_.Open("late");
  ASSERT_EQ(m->Wait(id)->state, JobState::kSucceeded);
  // A finished job replays exactly its terminal state.
  auto after = *m->Subscribe(id);
  std::optional<JobEvent> only = after->TryNext();
  ASSERT_TRUE(only.has_value());
  EXPECT_TRUE(only->terminal());
  EXPECT_FALSE(after->TryNext().has_value());
}

TEST_F(JobManagerTest, NotifierRunsForEveryEventUntilTheEnd) {
  auto m = Make(1);
  ASSERT_TRUE(m->Submit(Spec("blocker")).ok());  // keeps the next one queued while we subscribe
  const std::string id = m->Submit(Spec("notify"))->id;
  auto events = *m->Subscribe(id);
  std::atomic<int> notified{0};
  events->SetNotifier([&] { notified.fetch_add(1); });
  gates_.Open("notify");
  gates_.Open("blocker");
  ASSERT_EQ(m->Wait(id)->state, JobState::kSucceeded);
  // Started (state), progress, succeeded (state). The last notification
  // follows the state change (it runs after the manager's lock is released).
  for (int i = 0; i < 500 && notified.load() < 3; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(notified.load(), 3);
  std::vector<std::string> seen;
  while (std::optional<JobEvent> e = events->TryNext()) {
    seen.push_back(absl::StrCat(ToString(e->type), ":", ToString(e->info.state)));
  }
  EXPECT_THAT(seen,
              ElementsAre("state:queued", "state:running", "progress:running", "state:succeeded"));
}

// Reports progress `reports` times as fast as it can.
class ChattyKind : public JobKind {
 public:
  explicit ChattyKind(std::atomic<int>* count) : count_(count) {}
  std::string name() const override { return "chatty"; }
  absl::Status Validate(const Json&) const override { return absl::OkStatus(); }
  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    for (int i = 0; i < 2000 && !ctx.cancelled(); ++i) {
      ctx.ReportProgress(JobProgress{i / 2000.0, -1, {}, "chatting"});
      count_->fetch_add(1);
    }
    return Json::object();
  }

 private:
  std::atomic<int>* count_;
};

TEST(JobManagerYieldTest, JobsWaitAtTheirProgressReportsWhileServingIsBusy) {
  std::atomic<bool> busy{true};
  std::atomic<int> reports{0};
  const std::string dir =
      (fs::temp_directory_path() / ("surge-jobs-yield-" + std::to_string(getpid()))).string();
  JobManagerOptions o;
  o.state_dir = dir;
  o.serving_busy = [&] { return busy.load(); };
  o.max_yield = std::chrono::milliseconds(50);
  std::vector<std::unique_ptr<JobKind>> kinds;
  kinds.push_back(std::make_unique<ChattyKind>(&reports));
  auto m = *JobManager::Create(o, std::move(kinds));
  m->Start();
  JobSpec spec;
  spec.kind = "chatty";
  const std::string id = m->Submit(spec)->id;
  absl::SleepFor(absl::Milliseconds(500));
  // One report per max_yield while busy (plus scheduling slack), not 2000.
  const int while_busy = reports.load();
  EXPECT_GE(while_busy, 2);
  EXPECT_LE(while_busy, 500 / 50 + 5);
  busy = false;
  absl::StatusOr<JobInfo> done = m->Wait(id, absl::Seconds(30));
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(reports.load(), 2000);
  m->Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace surge::jobs

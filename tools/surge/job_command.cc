// `surge job`: model tasks as jobs (jobs/README.md).
//   surge job run KIND [--threads N] [--priority P] [--jobs-dir DIR] --arg value ...
//       runs here, a progress bar on stderr, the result JSON on stdout
//   surge job submit KIND --url URL [--api-key ADMIN_KEY] [--watch] --arg value ...
//   surge job list|watch ID|cancel ID --url URL [--api-key KEY]
// Exit code: 0 succeeded, 1 failed (or an error), 130 cancelled.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "jobs/builtin_kinds.h"
#include "jobs/job_client.h"
#include "jobs/job_manager.h"
#include "tools/surge/commands.h"
#include "tools/surge/job_progress.h"

namespace surge::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void OnJobInterrupt(int) { g_interrupted.store(true); }

struct JobFlags {
  std::string kind, id, url = "http://127.0.0.1:8080", api_key, jobs_dir, name, args_json;
  int threads = 1;
  int priority = jobs::kDefaultPriority;
  bool watch = false, json = false, quiet = false;
};

int ExitCode(const jobs::JobInfo& info) {
  if (info.state == jobs::JobState::kSucceeded) {
    std::printf("%s\n", jobs::DumpJson(info.result, 2).c_str());
    return 0;
  }
  std::fprintf(stderr, "surge job: %s %s: %s\n", info.id.c_str(), jobs::ToString(info.state),
               info.error.c_str());
  return info.state == jobs::JobState::kCancelled ? 130 : 1;
}

absl::StatusOr<jobs::JobSpec> SpecFrom(const JobFlags& f, const std::vector<std::string>& extra) {
  jobs::JobSpec spec;
  spec.kind = f.kind;
  spec.threads = f.threads;
  spec.priority = f.priority;
  spec.name = f.name;
  SURGE_ASSIGN_OR_RETURN(spec.args, ArgsFromFlags(extra));
  if (!f.args_json.empty()) {
    jobs::Json more = jobs::Json::parse(f.args_json, nullptr, /*allow_exceptions=*/false);
    if (!more.is_object()) return absl::InvalidArgumentError("--args must be a JSON object");
    for (const auto& [k, v] : more.items()) spec.args[k] = v;
  }
  return spec;
}

int RunLocal(const JobFlags& f, const std::vector<std::string>& extra) {
  if (f.kind == "deploy") {
    return Fail(
        "job", absl::InvalidArgumentError(
                   "deploy changes a running server: use `surge job submit deploy --url URL ...`"));
  }
  absl::StatusOr<jobs::JobSpec> spec = SpecFrom(f, extra);
  if (!spec.ok()) return Fail("job", spec.status());
  jobs::JobManagerOptions o;
  o.max_jobs = 1;
  o.state_dir = f.jobs_dir;
  o.nice_threads = false;  // alone on the machine as far as we know
  absl::StatusOr<std::unique_ptr<jobs::JobManager>> m =
      jobs::JobManager::Create(o, jobs::BuiltinKinds(nullptr));
  if (!m.ok()) return Fail("job", m.status());
  absl::StatusOr<jobs::JobInfo> job = (*m)->Submit(*std::move(spec));
  if (!job.ok()) return Fail("job", job.status());
  absl::StatusOr<std::shared_ptr<jobs::JobEventStream>> events = (*m)->Subscribe(job->id);
  if (!events.ok()) return Fail("job", events.status());
  g_interrupted.store(false);
  auto previous = std::signal(SIGINT, OnJobInterrupt);
  (*m)->Start();
  ProgressPrinter printer;
  bool cancel_sent = false;
  jobs::JobInfo last = *job;
  while (!jobs::IsTerminal(last.state)) {
    if (g_interrupted.load() && !cancel_sent) {
      cancel_sent = true;
      std::fprintf(stderr, "\nsurge job: cancelling %s...\n", job->id.c_str());
      (void)(*m)->Cancel(job->id);
    }
    std::optional<jobs::JobEvent> e = (*events)->Next(absl::Milliseconds(200));
    if (!e) continue;
    last = e->info;
    if (!f.quiet) printer.Update(last);
  }
  printer.Finish();
  std::signal(SIGINT, previous);
  (*m)->Stop();
  return ExitCode(last);
}

absl::StatusOr<jobs::JobClient> Client(const JobFlags& f) {
  jobs::JobClientOptions o;
  o.url = f.url;
  o.api_key = f.api_key;
  return jobs::JobClient::Create(o);
}

int Watch(const jobs::JobClient& client, const std::string& id, bool quiet) {
  ProgressPrinter printer;
  absl::StatusOr<jobs::JobInfo> done = client.Watch(id, [&](const jobs::JobEvent& e) {
    if (!quiet) printer.Update(e.info);
  });
  printer.Finish();
  if (!done.ok()) return Fail("job", done.status());
  return ExitCode(*done);
}

int Submit(const JobFlags& f, const std::vector<std::string>& extra) {
  absl::StatusOr<jobs::JobClient> client = Client(f);
  if (!client.ok()) return Fail("job", client.status());
  absl::StatusOr<jobs::JobSpec> spec = SpecFrom(f, extra);
  if (!spec.ok()) return Fail("job", spec.status());
  absl::StatusOr<jobs::JobInfo> job = client->Submit(*spec);
  if (!job.ok()) return Fail("job", job.status());
  if (!f.watch) {
    std::printf("%s\n", jobs::DumpJson(jobs::ToJson(*job), 2).c_str());
    return 0;
  }
  std::fprintf(stderr, "surge job: submitted %s\n", job->id.c_str());
  return Watch(*client, job->id, f.quiet);
}

int List(const JobFlags& f) {
  absl::StatusOr<jobs::JobClient> client = Client(f);
  if (!client.ok()) return Fail("job", client.status());
  absl::StatusOr<std::vector<jobs::JobInfo>> list = client->List();
  if (!list.ok()) return Fail("job", list.status());
  if (f.json) {
    jobs::Json j = jobs::Json::array();
    for (const jobs::JobInfo& info : *list) j.push_back(jobs::ToJson(info));
    std::printf("%s\n", jobs::DumpJson(j, 2).c_str());
    return 0;
  }
  std::printf("%-10s %-10s %-9s %6s  %-8s %s\n", "ID", "KIND", "STATE", "DONE", "ETA", "NAME");
  for (const jobs::JobInfo& info : *list) {
    const double eta = info.progress.eta_seconds;
    std::printf(
        "%-10s %-10s %-9s %5.1f%%  %-8s %s\n", info.id.c_str(), info.spec.kind.c_str(),
        jobs::ToString(info.state), 100 * info.progress.fraction,
        info.state == jobs::JobState::kRunning && eta >= 0 ? FormatDuration(eta).c_str() : "-",
        info.spec.name.c_str());
  }
  return 0;
}

int Cancel(const JobFlags& f) {
  absl::StatusOr<jobs::JobClient> client = Client(f);
  if (!client.ok()) return Fail("job", client.status());
  absl::StatusOr<jobs::JobInfo> job = client->Cancel(f.id);
  if (!job.ok()) return Fail("job", job.status());
  std::printf("%s %s%s\n", job->id.c_str(), jobs::ToString(job->state),
              job->state == jobs::JobState::kRunning ? " (cancelling)" : "");
  return 0;
}

void AddServerFlags(CLI::App* app, JobFlags* f) {
  app->add_option("--url", f->url, "the server, http://host:port")->capture_default_str();
  app->add_option("--api-key", f->api_key,
                  "sent as Authorization: Bearer (submit and cancel need the admin key)")
      ->envname("SURGE_API_KEY");
}

void AddSpecFlags(CLI::App* app, JobFlags* f) {
  app->add_option("kind", f->kind, "train | eval | quantize | deploy")->required();
  app->add_option("--threads", f->threads, "compute threads the job may use")
      ->capture_default_str();
  app->add_option("--priority", f->priority, "0 (first) .. 9 (last)")->capture_default_str();
  app->add_option("--job-name", f->name, "a name for the job, for people");
  app->add_option("--args", f->args_json, "the job's arguments as a JSON object");
  app->add_flag("--quiet", f->quiet, "no progress bar");
  app->allow_extras();
}

}  // namespace

CommandFn RegisterJob(CLI::App& app) {
  auto f = std::make_shared<JobFlags>();
  app.require_subcommand(1);
  CLI::App* run = app.add_subcommand("run", "run a job here, with a progress bar");
  AddSpecFlags(run, f.get());
  run->add_option("--jobs-dir", f->jobs_dir, "keep the job's state and files here");
  CLI::App* submit = app.add_subcommand("submit", "submit a job to a server");
  AddSpecFlags(submit, f.get());
  AddServerFlags(submit, f.get());
  submit->add_flag("--watch", f->watch, "follow its progress until it ends");
  CLI::App* list = app.add_subcommand("list", "list a server's jobs");
  AddServerFlags(list, f.get());
  list->add_flag("--json", f->json, "as JSON");
  CLI::App* watch = app.add_subcommand("watch", "follow a job's progress until it ends");
  watch->add_option("id", f->id, "job id")->required();
  watch->add_flag("--quiet", f->quiet, "no progress bar");
  AddServerFlags(watch, f.get());
  CLI::App* cancel = app.add_subcommand("cancel", "cancel a job");
  cancel->add_option("id", f->id, "job id")->required();
  AddServerFlags(cancel, f.get());
  return [f, run, submit, list, watch, cancel]() -> int {
    if (run->parsed()) return RunLocal(*f, run->remaining());
    if (submit->parsed()) return Submit(*f, submit->remaining());
    if (list->parsed()) return List(*f);
    absl::StatusOr<jobs::JobClient> client = Client(*f);
    if (!client.ok()) return Fail("job", client.status());
    if (watch->parsed()) return Watch(*client, f->id, f->quiet);
    if (cancel->parsed()) return Cancel(*f);
    return 2;
  };
}

}  // namespace surge::cli

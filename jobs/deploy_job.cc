// The deploy job: a model file into the serving registry with zero downtime,
// through the server's ModelDeployer (see model_deployer.h). Not resumable:
// a restart mid-deploy marks it failed, and the server serves what its flags
// name.
//
// Args: model (required, the public name), file (required, a GGUF file),
// check_tokens (tokens of the warm-up and health-check generations; default
// 8), drain_timeout_s (how long requests on the old version may take to
// finish before they are cancelled; default 600).
// Result: {name, new_file, old_file, added, load_seconds, warmup_seconds,
// check_seconds, drain_seconds, drained, check_text}.
#include <string>

#include "jobs/builtin_kinds.h"
#include "jobs/job_args.h"

namespace surge::jobs {
namespace {

absl::StatusOr<DeployRequest> ParseDeployArgs(const Json& json) {
  ArgReader r(json, "deploy");
  DeployRequest d;
  d.name = r.RequiredString("model");
  d.file = r.ExistingFile("file", /*required=*/true).value_or("");
  d.check_tokens = static_cast<int32_t>(r.Int("check_tokens", 1, 256).value_or(8));
  const double drain_s = r.Number("drain_timeout_s", 0, 86400).value_or(600);
  SURGE_RETURN_IF_ERROR(r.Finish());
  d.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(drain_s * 1000));
  return d;
}

Json ToJson(const DeployReport& r) {
  Json j = Json::object();
  j["name"] = r.name;
  j["new_file"] = r.new_file;
  j["old_file"] = r.old_file.empty() ? Json(nullptr) : Json(r.old_file);
  j["added"] = r.added;
  j["load_seconds"] = r.load_seconds;
  j["warmup_seconds"] = r.warmup_seconds;
  j["check_seconds"] = r.check_seconds;
  j["drain_seconds"] = r.drain_seconds;
  j["drained"] = r.drained;
  j["check_text"] = r.check_text;
  return j;
}

class DeployKind final : public JobKind {
 public:
  explicit DeployKind(ModelDeployer* deployer) : deployer_(deployer) {}

  std::string name() const override { return "deploy"; }

  absl::Status Validate(const Json& args) const override { return ParseDeployArgs(args).status(); }

  absl::StatusOr<Json> Run(JobContext& ctx) const override {
    SURGE_ASSIGN_OR_RETURN(DeployRequest request, ParseDeployArgs(ctx.args()));
    auto progress = [&ctx](double fraction, std::string_view stage) {
      ctx.ReportProgress(JobProgress{fraction, -1, {}, std::string(stage)});
    };
    SURGE_ASSIGN_OR_RETURN(DeployReport report,
                           deployer_->Deploy(request, progress, ctx.cancel_flag()));
    return ToJson(report);
  }

 private:
  ModelDeployer* deployer_;
};

}  // namespace

std::unique_ptr<JobKind> MakeDeployKind(ModelDeployer* deployer) {
  return std::make_unique<DeployKind>(deployer);
}

std::vector<std::unique_ptr<JobKind>> BuiltinKinds(ModelDeployer* deployer) {
  std::vector<std::unique_ptr<JobKind>> kinds;
  kinds.push_back(MakeTrainKind());
  kinds.push_back(MakeEvalKind());
  kinds.push_back(MakeQuantizeKind());
  if (deployer != nullptr) kinds.push_back(MakeDeployKind(deployer));
  return kinds;
}

}  // namespace surge::jobs

// The job kinds Surge ships: train (jobs/train), eval (perplexity and
// generation throughput), quantize (Q8_0 / Q4_0 with the perplexity change)
// and deploy (a model file into the serving registry; only where a
// ModelDeployer exists, i.e. on a server). Each kind's arguments are
// documented in jobs/README.md and checked by its Validate().
//
// Thread safety: the kinds are stateless; see job_kind.h.
#pragma once

#include <memory>
#include <vector>

#include "jobs/job_kind.h"
#include "jobs/model_deployer.h"

namespace surge::jobs {

std::unique_ptr<JobKind> MakeTrainKind();
std::unique_ptr<JobKind> MakeEvalKind();
std::unique_ptr<JobKind> MakeQuantizeKind();
// `deployer` must outlive the kind.
std::unique_ptr<JobKind> MakeDeployKind(ModelDeployer* deployer);

// All of the above; deploy only when `deployer` is not null.
std::vector<std::unique_ptr<JobKind>> BuiltinKinds(ModelDeployer* deployer);

}  // namespace surge::jobs

// The job API of `surge serve`, on the server's HttpServer:
//
//   POST /v1/jobs               {kind, args, threads?, priority?, name?} -> the job
//   GET  /v1/jobs               {"object": "list", "data": [job, ...]}
//   GET  /v1/jobs/{id}          the job
//   GET  /v1/jobs/{id}/events   Server-Sent Events: the job now (replay), then
//                               "state" and "progress" events; ends after the
//                               terminal state
//   POST /v1/jobs/{id}/cancel   the job (a running one stops at its next poll)
//
// A job is ToJson(JobInfo) (see job.h and docs/jobs-api.md). Errors are
// OpenAI-shaped: 400 (bad body or spec, unknown kind, the kind's argument
// check), 404 (unknown job or path), 409 (cancelling a finished job), 503
// (shutting down, state not writable).
//
// Who may call: the server decides through `guards`; `surge serve` requires
// the admin key for the POSTs and an API key (or the admin key) for the GETs.
// Thread safety: handlers run on the I/O threads; a submission validates
// the spec and writes one small state file there (fsync), everything else
// is non-blocking. SSE events are relayed onto the connection's strand.
#pragma once

#include <functional>

#include "jobs/job_manager.h"
#include "server/http/server.h"

namespace surge::jobs {

struct JobRouteGuards {
  using Wrap = std::function<server::http::Handler(server::http::Handler)>;
  Wrap write;  // POST routes; empty: no check
  Wrap read;   // GET routes; empty: no check
};

// `manager` must outlive the server's I/O (stop the server first, or stop
// the manager after it).
void RegisterJobRoutes(server::http::HttpServer& server, JobManager& manager,
                       const JobRouteGuards& guards);

}  // namespace surge::jobs

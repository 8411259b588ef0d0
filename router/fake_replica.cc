#include "router/fake_replica.h"

#include "absl/strings/str_cat.h"
#include "server/http/request.h"

namespace surge::router::testing {

namespace http = server::http;

FakeReplica::FakeReplica(std::vector<std::string> models) : models_(std::move(models)) {
  http::ServerOptions o;
  o.port = 0;
  http_ = std::make_unique<http::HttpServer>(o);
  http_->Route("GET", "/health", [this](auto ex) {
    const int s = health_.load();
    ex->Respond(s, "application/json", s == 200 ? R"({"status":"ok"})" : R"({"status":"no"})");
  });
  http_->Route("GET", "/v1/models", [this](auto ex) {
    std::string data;
    for (const std::string& m : models_) {
      absl::StrAppend(&data, data.empty() ? "" : ",", R"({"id":")", m,
                      R"(","object":"model","owned_by":"fake"})");
    }
    ex->Respond(200, "application/json", absl::StrCat(R"({"object":"list","data":[)", data, "]}"));
  });
  http_->SetFallback([this](auto ex) { Generate(std::move(ex)); });
  (void)http_->Start();
}

FakeReplica::~FakeReplica() { Stop(); }

void FakeReplica::Stop() {
  std::vector<std::jthread> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(streams_);
  }
  streams.clear();  // requests stop and joins
  http_->Stop();
  absl::MutexLock lock(&mu_);
  hung_.clear();
}

void FakeReplica::SetBehavior(FakeBehavior b) {
  absl::MutexLock lock(&mu_);
  behavior_ = std::move(b);
}

std::string FakeReplica::last_body() const {
  absl::MutexLock lock(&mu_);
  return last_body_;
}

http::Headers FakeReplica::last_headers() const {
  absl::MutexLock lock(&mu_);
  return last_headers_;
}

void FakeReplica::Generate(std::shared_ptr<http::Exchange> ex) {
  ++requests_;
  ex->OnClose([this] { ++closed_by_client_; });
  absl::MutexLock lock(&mu_);
  last_body_ = ex->request().body;
  last_headers_ = ex->request().headers;
  const FakeBehavior b = behavior_;
  switch (b.kind) {
    case FakeBehavior::Kind::kOk:
      ex->Respond(200, "application/json",
                  absl::StrCat(R"({"object":"chat.completion","replica":")", name(), R"("})"));
      return;
    case FakeBehavior::Kind::kStatus: {
      http::Headers h;
      if (!b.retry_after.empty()) h.emplace_back("Retry-After", b.retry_after);
      ex->Respond(b.status, "application/json", http::ErrorJson("scripted", "scripted"), h);
      return;
    }
    case FakeBehavior::Kind::kAbort:
      ex->StartStream(200, "application/json");
      ex->Respond(500, "application/json", "");  // after StartStream: cuts the connection
      return;
    case FakeBehavior::Kind::kHang:
      hung_.push_back(std::move(ex));
      return;
    case FakeBehavior::Kind::kSse:
    case FakeBehavior::Kind::kSseDie:
      streams_.emplace_back([this, ex, b](std::stop_token stop) { Stream(ex, b, stop); });
      return;
  }
}

void FakeReplica::Stream(std::shared_ptr<http::Exchange> ex, FakeBehavior b, std::stop_token stop) {
  ex->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
  for (int i = 0; i < b.events && !stop.stop_requested() && !ex->closed(); ++i) {
    if (i > 0 && b.gap.count() > 0) std::this_thread::sleep_for(b.gap);
    // Written in two pieces so the router sees events split across reads.
    const std::string event =
        absl::StrCat(R"(data: {"i":)", i, R"(,"replica":")", name(), "\"}\n\n");
    ex->Write(event.substr(0, 7));
    ex->Write(event.substr(7));
  }
  if (b.kind == FakeBehavior::Kind::kSseDie) {
    // Let the events reach the socket first: an abort drops unsent bytes.
    for (int i = 0; i < 1000 && ex->pending_write_bytes() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ex->Respond(500, "application/json", "");  // cuts the connection mid-stream
    return;
  }
  ex->Write("data: [DONE]\n\n");
  ex->End();
}

}  // namespace surge::router::testing

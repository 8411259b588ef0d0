#include "bench/load/runner.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "bench/load/arrivals.h"
#include "bench/load/metrics_scrape.h"
#include "bench/load/response_reader.h"
#include "server/http/asio.h"
#include "server/http/client.h"

namespace surge::bench {
namespace {

namespace net = server::http::net;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr std::chrono::milliseconds kTickPeriod{100};
constexpr std::chrono::milliseconds kMemorySamplePeriod{500};
constexpr std::chrono::milliseconds kMaxConnectTimeout{30000};
// A closed-loop worker whose request could not connect pauses this long
// before its next one, so a server that is down is not hammered (and a
// duration-capped level does not pile up millions of refused requests).
constexpr std::chrono::milliseconds kPauseAfterConnectionError{50};

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

struct InFlight {
  InFlight(net::io_context& ioc, bool streaming) : reader(streaming), deadline(ioc) {}
  RequestRecord record;
  TimePoint due;
  ResponseReader reader;
  net::steady_timer deadline;
  std::shared_ptr<server::http::ClientCall> call;
  bool timed_out = false;
};

// The state of one level while it runs; all of it on the io_context thread.
class Execution {
 public:
  Execution(const Workload& workload, const Target& target, uint64_t seed,
            std::chrono::milliseconds timeout, const LevelPlan& plan,
            const std::function<void(const Progress&)>& on_progress, const std::atomic<bool>* stop)
      : workload_(workload),
        target_(target),
        timeout_(timeout),
        plan_(plan),
        on_progress_(on_progress),
        stop_(stop),
        client_(ioc_),
        tick_(ioc_),
        arrival_timer_(ioc_),
        arrivals_(plan.value, MixSeed(seed, SeedTag("arrivals"), plan.stream)) {
    if (plan.sample_memory) {
      sampler_.emplace(ioc_, client_, target.url, target.api_key, kMemorySamplePeriod);
    }
  }

  LevelRun Run() {
    start_ = SteadyClock::now();
    if (sampler_) sampler_->Start();
    ArmTick();
    if (plan_.mode == LoadMode::kConcurrency) {
      const auto workers = static_cast<int64_t>(plan_.value);
      for (int64_t i = 0; i < workers && MayStartMore(); ++i) Issue(SteadyClock::now());
    } else {
      ScheduleArrival();
    }
    MaybeFinish();
    try {
      ioc_.run();
    } catch (const std::exception& e) {  // a handler of ours threw: a bug, but keep the data
      SURGE_LOG_ERROR("surge bench: level aborted: {}", e.what());
      result_.interrupted = true;
    }
    result_.duration_s = Seconds(end_ - start_);
    if (sampler_) result_.peak_resident_bytes = sampler_->peak_resident_bytes();
    return std::move(result_);
  }

 private:
  // Whether the caps still let a request start (closed loop: counts sent
  // requests; open loop: counts arrivals).
  bool MayStartMore() const {
    if (stopping_) return false;
    const int64_t count = plan_.mode == LoadMode::kConcurrency ? issued_ : num_arrivals_;
    if (plan_.max_requests > 0 && count >= plan_.max_requests) return false;
    return plan_.max_duration_s <= 0 || Seconds(SteadyClock::now() - start_) < plan_.max_duration_s;
  }

  void Issue(TimePoint due) {
    const int64_t index = issued_++;
    const RequestSpec spec = workload_.Request(plan_.stream, index);
    auto f = std::make_shared<InFlight>(ioc_, target_.body.stream);
    f->due = due;
    f->record.index = index;
    f->record.start_s = Seconds(due - start_);
    f->record.max_tokens = spec.max_tokens;
    server::http::ClientRequest r;
    r.method = "POST";
    r.host = target_.url.host;
    r.port = target_.url.port;
    r.target = std::string(EndpointPath(target_.body.endpoint));
    r.headers.emplace_back("Content-Type", "application/json");
    if (!target_.api_key.empty())
      r.headers.emplace_back("Authorization", "Bearer " + target_.api_key);
    r.body = BuildRequestBody(spec, target_.body);
    r.connect_timeout = std::min(timeout_, kMaxConnectTimeout);
    r.read_timeout = timeout_;
    inflight_.emplace(index, f);
    f->deadline.expires_at(due + timeout_);
    f->deadline.async_wait([f](const server::http::error_code& ec) {
      if (ec || f->call == nullptr) return;
      f->timed_out = true;
      f->call->Cancel();
    });
    f->call = client_.Request(
        std::move(r),
        {.on_status_headers = [f](int status,
                                  const server::http::Headers&) { f->reader.OnStatus(status); },
         .on_body_chunk =
             [f](std::string_view chunk) {
               f->reader.OnBody(chunk, Seconds(SteadyClock::now() - f->due));
             },
         .on_done = [this, f](absl::Status status) { OnDone(f, std::move(status)); }});
  }

  void OnDone(const std::shared_ptr<InFlight>& f, absl::Status status) {
    f->deadline.cancel();
    const TimePoint now = SteadyClock::now();
    RequestRecord& rec = f->record;
    if (status.ok()) {
      f->reader.Complete(Seconds(now - f->due), &rec);
    } else {
      rec.e2e_s = Seconds(now - f->due);
      rec.error_message = std::string(status.message());
      if (absl::IsCancelled(status)) {
        rec.error = f->timed_out ? ErrorKind::kTimeout : ErrorKind::kCancelled;
        if (f->timed_out) rec.error_message = "no complete response within --timeout-s";
      } else if (absl::IsDeadlineExceeded(status)) {
        rec.error = ErrorKind::kTimeout;
      } else if (absl::IsUnavailable(status)) {
        rec.error = ErrorKind::kConnection;
      } else {
        rec.error = ErrorKind::kProtocol;
      }
    }
    if (!rec.ok() && rec.error != ErrorKind::kCancelled) ++num_errors_;
    const bool refused = rec.error == ErrorKind::kConnection;
    end_ = now;
    inflight_.erase(rec.index);
    result_.records.push_back(std::move(rec));
    f->call.reset();  // the call holds the callbacks, which hold f
    if (!pending_.empty() && !stopping_) {
      const TimePoint due = pending_.front();
      pending_.pop_front();
      Issue(due);
    } else if (plan_.mode == LoadMode::kConcurrency && refused && MayStartMore()) {
      PauseWorker();
    } else if (plan_.mode == LoadMode::kConcurrency && MayStartMore()) {
      Issue(SteadyClock::now());
    }
    MaybeFinish();
  }

  void PauseWorker() {
    ++num_paused_;
    auto timer = std::make_shared<net::steady_timer>(ioc_, kPauseAfterConnectionError);
    timer->async_wait([this, timer](const server::http::error_code&) {
      --num_paused_;
      if (MayStartMore()) Issue(SteadyClock::now());
      MaybeFinish();
    });
  }

  void ScheduleArrival() {
    if (!MayStartMore()) {
      arrivals_done_ = true;
      return;
    }
    const double offset_s = arrivals_.Next();
    if (plan_.max_duration_s > 0 && offset_s >= plan_.max_duration_s) {
      arrivals_done_ = true;
      return;
    }
    ++num_arrivals_;
    const TimePoint due = start_ + std::chrono::duration_cast<SteadyClock::duration>(
                                       std::chrono::duration<double>(offset_s));
    arrival_timer_.expires_at(due);
    arrival_timer_.async_wait([this, due](const server::http::error_code& ec) {
      if (ec || stopping_) return;
      if (static_cast<int64_t>(inflight_.size()) < plan_.max_inflight) {
        Issue(due);
      } else {
        pending_.push_back(due);  // sent when a slot frees, still timed from `due`
      }
      ScheduleArrival();
      MaybeFinish();
    });
  }

  void ArmTick() {
    tick_.expires_after(kTickPeriod);
    tick_.async_wait([this](const server::http::error_code& ec) {
      if (ec || finished_) return;
      if (stop_ != nullptr && stop_->load(std::memory_order_relaxed) && !stopping_) StopNow();
      if (on_progress_) on_progress_(Snapshot());
      if (!finished_) ArmTick();
    });
  }

  void StopNow() {
    stopping_ = true;
    result_.interrupted = true;
    arrivals_done_ = true;
    arrival_timer_.cancel();
    for (const TimePoint due : pending_) {
      RequestRecord rec;
      rec.index = -1;
      rec.start_s = Seconds(due - start_);
      rec.error = ErrorKind::kCancelled;
      result_.records.push_back(std::move(rec));
    }
    pending_.clear();
    for (auto& [index, f] : inflight_) f->call->Cancel();
    MaybeFinish();
  }

  void MaybeFinish() {
    if (finished_ || !inflight_.empty() || !pending_.empty() || num_paused_ > 0) return;
    const bool issuing_over =
        plan_.mode == LoadMode::kConcurrency ? !MayStartMore() : arrivals_done_;
    if (!issuing_over && !stopping_) return;
    finished_ = true;
    if (result_.records.empty()) end_ = SteadyClock::now();
    tick_.cancel();
    arrival_timer_.cancel();
    if (sampler_) sampler_->Stop();
    if (on_progress_) on_progress_(Snapshot());
  }

  Progress Snapshot() const {
    return Progress{.issued = issued_ + static_cast<int64_t>(pending_.size()),
                    .finished = static_cast<int64_t>(result_.records.size()),
                    .errors = num_errors_,
                    .inflight = static_cast<int64_t>(inflight_.size()),
                    .elapsed_s = Seconds(SteadyClock::now() - start_)};
  }

  const Workload& workload_;
  const Target& target_;
  const std::chrono::milliseconds timeout_;
  const LevelPlan plan_;
  const std::function<void(const Progress&)>& on_progress_;
  const std::atomic<bool>* stop_;

  net::io_context ioc_;
  server::http::HttpClient client_;
  net::steady_timer tick_;
  net::steady_timer arrival_timer_;
  PoissonArrivals arrivals_;
  std::optional<ResidentMemorySampler> sampler_;

  TimePoint start_{};
  TimePoint end_{};
  int64_t issued_ = 0;
  int64_t num_errors_ = 0;
  int64_t num_arrivals_ = 0;  // open loop: arrivals scheduled so far
  int num_paused_ = 0;        // closed loop: workers in PauseWorker()
  std::unordered_map<int64_t, std::shared_ptr<InFlight>> inflight_;
  std::deque<TimePoint> pending_;  // open-loop arrivals waiting for a slot
  bool arrivals_done_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  LevelRun result_;
};

}  // namespace

LevelRun LevelRunner::Run(const LevelPlan& plan,
                          const std::function<void(const Progress&)>& on_progress,
                          const std::atomic<bool>* stop) const {
  Execution execution(workload_, target_, seed_, timeout_, plan, on_progress, stop);
  return execution.Run();
}

}  // namespace surge::bench

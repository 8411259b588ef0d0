// PeriodicTask: runs a function now and then every interval on an
// io_context, until the io_context stops.
#pragma once

#include <functional>

#include "base/clock.h"
#include "server/http/asio.h"

namespace surge::router {

// Ownership: the owner keeps the task alive while its io_context runs; the
// router stops and joins the io_context before destroying its tasks.
// Thread safety: Start() once, before the io_context runs or on its thread;
// `fn` runs on the io_context's thread(s), one run at a time.
class PeriodicTask {
 public:
  PeriodicTask(boost::asio::io_context& ioc, base::Duration interval, std::function<void()> fn)
      : timer_(ioc), interval_(interval), fn_(std::move(fn)) {}

  void Start() {
    boost::asio::post(timer_.get_executor(), [this] { Tick(); });
  }

 private:
  void Tick() {
    fn_();
    timer_.expires_after(interval_);
    timer_.async_wait([this](const server::http::error_code& ec) {
      if (!ec) Tick();
    });
  }

  boost::asio::steady_timer timer_;
  const base::Duration interval_;
  const std::function<void()> fn_;
};

}  // namespace surge::router

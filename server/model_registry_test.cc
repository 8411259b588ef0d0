// ModelRegistry state transitions with a fake loader (no engines): on-demand
// loads on the loader thread, waiters, the memory budget with LRU eviction
// and drains, keep_alive, admin unloads, errors. The same behaviour on real
// models and the real binary is tests/e2e/models_e2e_test.cc.
#include "server/model_registry.h"

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace surge::server {
namespace {

using std::chrono::milliseconds;

class FakeLoader {
 public:
  ModelLoader loader() {
    ModelLoader l;
    l.estimate_bytes = [this](const ModelSpec& spec) -> absl::StatusOr<int64_t> {
      absl::MutexLock lock(&mu_);
      return bytes_.contains(spec.name) ? bytes_[spec.name] : 10;
    };
    l.load = [this](const ModelSpec& spec) -> absl::StatusOr<std::unique_ptr<LoadedModel>> {
      {
        absl::MutexLock gate(&gate_mu_);
        gate_mu_.Await(absl::Condition(&open_));
      }
      absl::MutexLock lock(&mu_);
      ++loads_[spec.name];
      load_thread_ = std::this_thread::get_id();
      if (spec.path == "bad") return absl::DataLossError("not a GGUF file");
      auto m = std::make_unique<LoadedModel>();
      m->bytes = bytes_.contains(spec.name) ? bytes_[spec.name] : 10;
      return m;
    };
    return l;
  }
  void SetBytes(const std::string& name, int64_t bytes) {
    absl::MutexLock lock(&mu_);
    bytes_[name] = bytes;
  }
  int loads(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return loads_[name];
  }
  std::thread::id load_thread() {
    absl::MutexLock lock(&mu_);
    return load_thread_;
  }
  // Between Close() and Open(), loads block.
  void Close() {
    absl::MutexLock gate(&gate_mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock gate(&gate_mu_);
    open_ = true;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int64_t> bytes_;
  std::map<std::string, int> loads_;
  std::thread::id load_thread_;
  absl::Mutex gate_mu_;
  bool open_ = true;
};

// Acquire, blocking until the callback has run.
absl::StatusOr<std::shared_ptr<ModelLease>> AcquireNow(ModelRegistry& r, const std::string& name) {
  absl::Notification done;
  absl::StatusOr<std::shared_ptr<ModelLease>> out;
  r.Acquire(name, [&](absl::StatusOr<std::shared_ptr<ModelLease>> lease) {
    out = std::move(lease);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

ModelState StateOf(const ModelRegistry& r, const std::string& name) {
  for (const ModelStatus& m : r.List()) {
    if (m.name == name) return m.state;
  }
  return ModelState::kUnloaded;
}

bool WaitFor(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

std::shared_ptr<ModelRegistry> MakeRegistry(FakeLoader& fake, RegistryOptions o,
                                            std::vector<std::string> names) {
  auto r = ModelRegistry::Create(o, fake.loader());
  for (const std::string& n : names)
    EXPECT_TRUE(r->Add({n, n == "broken" ? "bad" : n + ".gguf", {}}).ok());
  r->Start();
  // As every owner must: Stop() (on the test's thread) before the last
  // reference goes, which may otherwise be a lease on the loader thread.
  ModelRegistry* raw = r.get();
  return std::shared_ptr<ModelRegistry>(raw, [r = std::move(r)](ModelRegistry*) mutable {
    r->Stop();
    r.reset();
  });
}

TEST(ModelRegistryTest, LoadsOnDemandOnTheLoaderThread) {
  FakeLoader fake;
  auto r = MakeRegistry(fake, {}, {"a", "b"});
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kUnloaded);
  auto lease = AcquireNow(*r, "a");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->name(), "a");
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kReady);
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kUnloaded);
  EXPECT_NE(fake.load_thread(), std::this_thread::get_id());
  // Ready: the second lease comes at once, on the caller's thread, no reload.
  std::thread::id cb_thread;
  r->Acquire("a", [&](absl::StatusOr<std::shared_ptr<ModelLease>> l) {
    EXPECT_TRUE(l.ok());
    cb_thread = std::this_thread::get_id();
  });
  EXPECT_EQ(cb_thread, std::this_thread::get_id());
  EXPECT_EQ(fake.loads("a"), 1);
  EXPECT_EQ(r->List()[0].in_flight, 1);
  EXPECT_EQ(r->default_model(), "a");
}

TEST(ModelRegistryTest, RequestsArrivingWhileLoadingWaitAndAllGetTheModel) {
  FakeLoader fake;
  fake.Close();
  auto r = MakeRegistry(fake, {}, {"a"});
  std::atomic<int> ok{0};
  for (int i = 0; i < 5; ++i) {
    r->Acquire("a", [&](absl::StatusOr<std::shared_ptr<ModelLease>> l) { ok += l.ok(); });
  }
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "a") == ModelState::kLoading; }));
  EXPECT_EQ(r->List()[0].waiting, 5);
  fake.Open();
  ASSERT_TRUE(WaitFor([&] { return ok.load() == 5; }));
  EXPECT_EQ(fake.loads("a"), 1);
}

TEST(ModelRegistryTest, TooManyWaitersAreRefused) {
  FakeLoader fake;
  fake.Close();
  RegistryOptions o;
  o.max_waiters = 2;
  auto r = MakeRegistry(fake, o, {"a"});
  r->Acquire("a", [](auto) {});
  r->Acquire("a", [](auto) {});
  auto third = AcquireNow(*r, "a");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  fake.Open();
}

TEST(ModelRegistryTest, BudgetUnloadsTheLeastRecentlyUsedIdleModel) {
  FakeLoader fake;
  RegistryOptions o;
  o.max_memory_bytes = 100;
  auto r = MakeRegistry(fake, o, {"a", "b", "c"});
  for (const char* n : {"a", "b", "c"}) fake.SetBytes(n, 40);
  ASSERT_TRUE(AcquireNow(*r, "a").ok());
  std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(AcquireNow(*r, "b").ok());
  std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(AcquireNow(*r, "a").ok());  // a is now the more recently used
  EXPECT_EQ(r->memory_used_bytes(), 80);
  ASSERT_TRUE(AcquireNow(*r, "c").ok());
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kReady);
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kUnloaded);  // least recently used
  EXPECT_EQ(StateOf(*r, "c"), ModelState::kReady);
  EXPECT_LE(r->memory_used_bytes(), 100);
}

TEST(ModelRegistryTest, BudgetDrainsABusyModelInsteadOfCuttingIt) {
  FakeLoader fake;
  RegistryOptions o;
  o.max_memory_bytes = 100;
  auto r = MakeRegistry(fake, o, {"a", "b"});
  fake.SetBytes("a", 60);
  fake.SetBytes("b", 60);
  auto a = AcquireNow(*r, "a");  // a request in flight on a
  ASSERT_TRUE(a.ok());
  absl::Notification b_ready;
  std::shared_ptr<ModelLease> b;
  r->Acquire("b", [&](absl::StatusOr<std::shared_ptr<ModelLease>> l) {
    ASSERT_TRUE(l.ok());
    b = *l;
    b_ready.Notify();
  });
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "a") == ModelState::kDraining; }));
  // Draining: the lease held is still good, no new lease is handed out, and
  // b does not load while a holds its memory.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(b_ready.HasBeenNotified());
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kUnloaded);
  bool a_again = false;
  r->Acquire("a", [&](auto l) { a_again = l.ok(); });
  EXPECT_FALSE(a_again);
  a->reset();  // the request on a ends
  ASSERT_TRUE(WaitFor([&] { return b_ready.HasBeenNotified(); }));
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kUnloaded);
  EXPECT_NE(StateOf(*r, "b"), ModelState::kUnloaded);  // ready, or draining for a
  EXPECT_EQ(r->memory_used_bytes(), 60);
  // The request that came for a while it drained loads it again once b's
  // request is done (b drains in turn: a's waiter needs the room).
  b.reset();
  ASSERT_TRUE(WaitFor([&] { return a_again; }));
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kReady);
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kUnloaded);
  EXPECT_EQ(fake.loads("a"), 2);
}

TEST(ModelRegistryTest, KeepAlive) {
  FakeLoader fake;
  RegistryOptions o;
  o.default_keep_alive = milliseconds(0);  // unload as soon as idle
  auto r = MakeRegistry(fake, o, {"a", "b"});
  {
    auto lease = AcquireNow(*r, "a");
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(StateOf(*r, "a"), ModelState::kReady);
  }
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "a") == ModelState::kUnloaded; }));
  {
    // A request's own keep_alive wins: forever.
    auto lease = AcquireNow(*r, "b");
    ASSERT_TRUE(lease.ok());
    (*lease)->set_keep_alive(milliseconds(-1));
  }
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kReady);
  {
    auto lease = AcquireNow(*r, "b");
    (*lease)->set_keep_alive(milliseconds(150));
  }
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(StateOf(*r, "b"), ModelState::kReady);
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "b") == ModelState::kUnloaded; }));
}

TEST(ModelRegistryTest, AdminUnloadDrainsThenUnloads) {
  FakeLoader fake;
  auto r = MakeRegistry(fake, {}, {"a"});
  auto lease = AcquireNow(*r, "a");
  ASSERT_TRUE(lease.ok());
  absl::StatusOr<ModelState> s = r->Unload("a");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, ModelState::kDraining);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(StateOf(*r, "a"), ModelState::kDraining);
  lease->reset();
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "a") == ModelState::kUnloaded; }));
  EXPECT_EQ(r->memory_used_bytes(), 0);
  EXPECT_EQ(r->Unload("a").value(), ModelState::kUnloaded);
  EXPECT_EQ(r->Unload("zzz").status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelRegistryTest, Errors) {
  FakeLoader fake;
  RegistryOptions o;
  o.max_memory_bytes = 100;
  auto r = MakeRegistry(fake, o, {"big", "broken"});
  fake.SetBytes("big", 101);
  EXPECT_EQ(AcquireNow(*r, "nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AcquireNow(*r, "big").status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::shared_ptr<ModelLease>> broken = AcquireNow(*r, "broken");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(broken.status().message().find("not a GGUF file"), absl::string_view::npos);
  EXPECT_EQ(StateOf(*r, "broken"), ModelState::kUnloaded);
  EXPECT_EQ(r->List()[1].last_error, "not a GGUF file");
  EXPECT_FALSE(r->Add({"late", "late.gguf", {}}).ok());  // after Start()
}

TEST(ModelRegistryTest, StopFailsWaiters) {
  FakeLoader fake;
  fake.Close();
  auto r = MakeRegistry(fake, {}, {"a", "b"});
  std::atomic<bool> a_loaded{false};
  r->Acquire("a", [&](auto l) { a_loaded = l.ok(); });
  ASSERT_TRUE(WaitFor([&] { return StateOf(*r, "a") == ModelState::kLoading; }));
  absl::Notification b_failed;
  r->Acquire("b", [&](auto l) {
    EXPECT_EQ(l.status().code(), absl::StatusCode::kUnavailable);
    b_failed.Notify();
  });
  std::thread stopper([&] { r->Stop(); });
  std::this_thread::sleep_for(milliseconds(20));
  fake.Open();  // the load in progress finishes, then Stop() goes on
  stopper.join();
  EXPECT_TRUE(a_loaded.load());
  EXPECT_TRUE(b_failed.HasBeenNotified());
  EXPECT_EQ(AcquireNow(*r, "a").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace surge::server

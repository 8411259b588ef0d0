// Sessions and --preload end to end (the real binary, a tiny model):
// a conversation bound to a session_id prefills only its new tokens each
// turn, survives a restart through --session-dir and continues exactly as a
// server that recomputes everything; another tenant never sees it; a corrupt
// session file is skipped with a clear log line; a preloaded system prompt is
// cached for the very first request.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kModel[] = "surge-llama-tiny";
constexpr char kSystem[] =
    "You are a careful assistant. Answer in one short sentence, name your sources, and never "
    "invent facts you do not know. Keep every answer polite and to the point.";

// Never throws: a test's own failure is the one worth reading.
void RemoveDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

std::string TempDir(const std::string& tag) {
  fs::path p =
      fs::temp_directory_path() / ("surge-sessions-" + tag + "-" + std::to_string(getpid()));
  RemoveDir(p.string());
  fs::create_directories(p);
  return p.string();
}

json Turn(const json& messages, const std::string& session) {
  json r = {{"model", kModel},
            {"messages", messages},
            {"max_tokens", 8},
            {"temperature", 0},
            {"ignore_eos", true}};
  if (!session.empty()) r["session_id"] = session;
  return r;
}

struct Reply {
  std::string text;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
};

Reply Ask(const ServeProcess& server, const json& body, const std::string& key = "") {
  std::vector<std::string> headers;
  if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
  HttpResult r = Post(server.url("/v1/chat/completions"), body.dump(), headers);
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return {};
  json j = json::parse(r.body);
  return {j["choices"][0]["message"]["content"].get<std::string>(),
          j["usage"]["prompt_tokens"].get<int64_t>(),
          j["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>()};
}

json History(int turns, const std::vector<std::string>& answers) {
  json messages = json::array();
  messages.push_back({{"role", "system"}, {"content", kSystem}});
  for (int t = 0; t < turns; ++t) {
    messages.push_back(
        {{"role", "user"},
         {"content", "Question number " + std::to_string(t) + ": what comes next in the story?"}});
    if (t < static_cast<int>(answers.size())) {
      messages.push_back({{"role", "assistant"}, {"content", answers[t]}});
    }
  }
  return messages;
}

TEST(SessionsE2eTest, ConversationSurvivesRestartAndContinuesIdentically) {
  const std::string dir = TempDir("restart");
  // A KV cache of 40 blocks of 16 tokens (110592 bytes each on `tiny`): the
  // filler requests below evict every unpinned block, so only the session
  // keeps the history warm.
  const std::vector<std::string> args = {"--session-dir", dir,     "--kv-cache-bytes", "4423680",
                                         "--api-key",     "key-a", "--api-key",        "key-b"};
  std::vector<std::string> answers;
  Reply last;
  {
    ServeProcess server(args);
    for (int t = 1; t <= 3; ++t) {
      last = Ask(server, Turn(History(t, answers), "conv-1"), "key-a");
      answers.push_back(last.text);
      if (t > 1) {
        // Everything up to the last turn's end is pinned: at least the
        // previous prompt (rounded down to a block) is reused.
        EXPECT_GE(last.cached_tokens, 32) << "turn " << t;
      }
      // Unrelated traffic between turns fills the cache.
      for (int i = 0; i < 4; ++i) {
        std::string filler;
        for (int w = 0; w < 20; ++w) {
          filler += "the quick brown fox number " + std::to_string(t * 100 + i * 20 + w) + " ";
        }
        Ask(server, Turn(json::array({{{"role", "user"}, {"content", filler}}}), ""), "key-a");
      }
    }
    ASSERT_EQ(server.SignalAndWait(SIGTERM), 0);
  }
  bool saved = false;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
    saved = saved || e.path().extension() == ".session";
  }
  ASSERT_TRUE(saved) << "no .session file under " << dir;

  const json turn4 = Turn(History(4, answers), "conv-1");
  Reply restored;
  {
    ServeProcess server(args);
    restored = Ask(server, turn4, "key-a");
    EXPECT_GE(restored.cached_tokens, last.prompt_tokens - 16)
        << "the restored session should cover the whole previous turn";
    // Another tenant naming the same session id gets nothing of it.
    EXPECT_EQ(Ask(server, turn4, "key-b").cached_tokens, 0);
  }
  // A server that computes turn 4 from scratch gives the same answer.
  ServeProcess fresh({"--api-key", "key-a"});
  Reply recomputed = Ask(fresh, Turn(History(4, answers), ""), "key-a");
  EXPECT_EQ(recomputed.cached_tokens, 0);
  EXPECT_EQ(restored.text, recomputed.text);
  EXPECT_EQ(restored.prompt_tokens, recomputed.prompt_tokens);
  RemoveDir(dir);
}

TEST(SessionsE2eTest, CorruptSessionFileIsSkippedWithAClearError) {
  const std::string dir = TempDir("corrupt");
  {
    ServeProcess server({"--session-dir", dir});
    Ask(server, Turn(History(1, {}), "conv-2"), "");
    ASSERT_EQ(server.SignalAndWait(SIGTERM), 0);
  }
  int corrupted = 0;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".session") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.write("garbage!", 8);
    ++corrupted;
  }
  ASSERT_GT(corrupted, 0);
  ServeProcess server({"--session-dir", dir});
  // The server runs and the session simply starts over.
  Reply r = Ask(server, Turn(History(1, {}), "conv-2"), "");
  EXPECT_FALSE(r.text.empty());
  const std::string log = server.Log();
  EXPECT_NE(log.find("session"), std::string::npos) << log;
  EXPECT_NE(log.find("rejected"), std::string::npos) << log;
  // It saves the new session on the way out; the directory goes after.
  EXPECT_EQ(server.SignalAndWait(SIGTERM), 0);
  RemoveDir(dir);
}

TEST(SessionsE2eTest, PreloadedSystemPromptIsCachedForTheFirstRequest) {
  const std::string dir = TempDir("preload");
  const std::string file = dir + "/preload.jsonl";
  {
    std::ofstream out(file);
    out << "# system prompts computed at start\n"
        << json({{"messages", {{{"role", "system"}, {"content", kSystem}}}}}).dump() << "\n";
  }
  ServeProcess server({"--preload", file});
  Reply first = Ask(server, Turn(History(1, {}), ""), "");
  // The system turn is at least 40 tokens; all its whole blocks are cached.
  EXPECT_GE(first.cached_tokens, 32) << "prompt " << first.prompt_tokens;
  ServeProcess cold;
  EXPECT_EQ(Ask(cold, Turn(History(1, {}), ""), "").cached_tokens, 0);
  RemoveDir(dir);
}

TEST(SessionsE2eTest, BadSessionFieldsAndPreloadFilesAreClearErrors) {
  ServeProcess server;
  const std::string url = server.url("/v1/chat/completions");
  json two = Turn(History(1, {}), "conv-3");
  two["n"] = 2;
  HttpResult r = Post(url, two.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "session_id") << r.body;
  r = Post(url, Turn(History(1, {}), std::string(300, 's')).dump());
  EXPECT_EQ(r.status, 400) << r.body;
  json number = Turn(History(1, {}), "");
  number["session_id"] = 7;
  r = Post(url, number.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  // The server keeps serving.
  EXPECT_FALSE(Ask(server, Turn(History(1, {}), "conv-3"), "").text.empty());

  const std::string dir = TempDir("badpreload");
  const std::string file = dir + "/bad.jsonl";
  std::ofstream(file) << "{\"prompt\": \"ok\"}\n{\"messages\": 3}\n";
  const std::string cmd = "timeout 120 " + ServeProcess::Binary() + " serve -m " +
                          ServeProcess::ModelPath() + " --port 0 --preload " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("--preload line 2"), std::string::npos) << out;
  RemoveDir(dir);
}

}  // namespace
}  // namespace surge::e2e

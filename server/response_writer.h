// ResponseWriter turns a response's deltas (per choice: text, logprobs, how
// it finished) into what the client asked for: Server-Sent Events chunks as
// they come, or one JSON body at the end. Live generations (the engine's
// token stream) and replays from the response cache both write through it,
// so a cached answer is formatted exactly like a computed one.
//
// It can also record the deltas, for the response cache: Recording() hands
// them over when every choice ended with stop or length.
//
// Ownership: holds the Exchange; borrows the ApiServer (errors, metrics).
// Thread safety: confined to the connection's strand (not thread-safe).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/http/exchange.h"
#include "server/openai/format.h"
#include "server/openai/protocol.h"
#include "server/response_cache.h"

namespace surge::server {

class ApiServer;

class ResponseWriter {
 public:
  ResponseWriter(ApiServer& server, std::shared_ptr<http::Exchange> ex, openai::Endpoint endpoint,
                 const openai::CommonRequest& request, openai::ResponseMeta meta, bool record);

  // Sends the stream's header (streams only).
  void Start();
  // One choice's delta. A finish of kError or kExpired carries `error` (the
  // engine's message); a stream then gets an SSE error event for it.
  void Delta(openai::Choice delta, const std::string& error = "");
  // Ends the response with `usage`: the usage chunk (if asked for) and
  // [DONE], or the whole JSON body, or the error of a choice that failed.
  // Returns the HTTP status sent (499 when the client had left).
  int Finish(const openai::Usage& usage);

  // The deltas written, when recording and every choice ended with stop or
  // length; null otherwise.
  std::shared_ptr<CachedResponse> Recording(int32_t prompt_tokens, int32_t completion_tokens);
  // The finish reason to report ("stop", "length", ...): the last choice's.
  std::string finish_reason() const;
  const openai::ResponseMeta& meta() const { return meta_; }

 private:
  struct ChoiceState {
    openai::Choice choice;
    std::vector<openai::TokenLogprob> logprobs;
    bool role_sent = false;
    std::string error;
  };
  void WriteChunk(openai::Choice delta, ChoiceState& c);
  int RespondWhole(const openai::Usage& usage);

  ApiServer& server_;
  std::shared_ptr<http::Exchange> ex_;
  const openai::Endpoint endpoint_;
  const bool stream_, include_usage_, logprobs_;
  openai::ResponseMeta meta_;
  std::vector<ChoiceState> choices_;
  bool record_;
  std::vector<openai::Choice> recorded_;
};

}  // namespace surge::server

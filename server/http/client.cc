#include "server/http/client.h"

#include <exception>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/http/asio.h"

namespace surge::server::http {
namespace {

constexpr size_t kBodyBufferBytes = 16 * 1024;
constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;

bool HasField(const Headers& headers, std::string_view name) {
  return FindHeader(headers, name).has_value();
}

std::string SerializeRequest(const ClientRequest& request) {
  std::string out = absl::StrCat(request.method, " ", request.target.empty() ? "/" : request.target,
                                 " HTTP/1.1\r\n");
  if (!HasField(request.headers, "host")) {
    const bool v6 = request.host.find(':') != std::string::npos;
    absl::StrAppend(&out, "Host: ", v6 ? "[" : "", request.host, v6 ? "]" : "", ":", request.port,
                    "\r\n");
  }
  const bool body_method =
      request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
  if (!HasField(request.headers, "content-length") &&
      !HasField(request.headers, "transfer-encoding") && (body_method || !request.body.empty())) {
    absl::StrAppend(&out, "Content-Length: ", request.body.size(), "\r\n");
  }
  if (!HasField(request.headers, "connection")) out += "Connection: close\r\n";
  for (const auto& [name, value] : request.headers)
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  out += "\r\n";
  out += request.body;
  return out;
}

absl::Status ErrorStatus(const error_code& ec, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(message);
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return absl::InternalError(message);
  }
  return absl::UnavailableError(message);
}

class Call : public ClientCall, public std::enable_shared_from_this<Call> {
 public:
  Call(net::io_context& ioc, ClientRequest request, ClientCallbacks callbacks)
      : strand_(net::make_strand(ioc)),
        resolver_(strand_),
        stream_(strand_),
        body_buffer_(new char[kBodyBufferBytes]),
        request_(std::move(request)),
        callbacks_(std::move(callbacks)) {}

  void Start() {
    net::post(strand_, [self = shared_from_this()] { self->Resolve(); });
  }

  void Cancel() override {
    net::post(strand_,
              [self = shared_from_this()] { self->Finish(absl::CancelledError("cancelled")); });
  }

 private:
  void Resolve() {
    if (done_) return;
    error_code parse_ec;
    const auto address = net::ip::make_address(request_.host, parse_ec);
    stream_.expires_after(request_.connect_timeout);
    if (!parse_ec) {
      stream_.async_connect(tcp::endpoint(address, request_.port),
                            [self = shared_from_this()](const error_code& connect_ec) {
                              self->OnConnect(connect_ec);
                            });
      return;
    }
    resolver_.async_resolve(
        request_.host, std::to_string(request_.port),
        [self = shared_from_this()](const error_code& resolve_ec,
                                    const tcp::resolver::results_type& results) {
          if (self->done_) return;
          if (resolve_ec) {
            self->Finish(absl::UnavailableError(
                absl::StrCat("resolve ", self->request_.host, ": ", resolve_ec.message())));
            return;
          }
          self->stream_.async_connect(
              results, [self](const error_code& ec, const tcp::endpoint&) { self->OnConnect(ec); });
        });
  }

  void OnConnect(const error_code& ec) {
    if (done_) return;
    if (ec) {
      Finish(ErrorStatus(ec, absl::StrCat("connect to ", request_.host, ":", request_.port)));
      return;
    }
    error_code option_ec;
    stream_.socket().set_option(tcp::no_delay(true), option_ec);
    wire_ = SerializeRequest(request_);
    stream_.expires_after(request_.read_timeout);
    net::async_write(stream_, net::buffer(wire_),
                     [self = shared_from_this()](const error_code& write_ec, size_t) {
                       self->OnWrite(write_ec);
                     });
  }

  void OnWrite(const error_code& ec) {
    if (done_) return;
    if (ec) {
      Finish(ErrorStatus(ec, "sending the request"));
      return;
    }
    NewParser();
    ReadSome();
  }

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(kMaxResponseHeaderBytes);
    // Not boost::none: Boost 1.74 compares Content-Length against the empty
    // optional and then rejects every body.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (request_.method == "HEAD") parser_->skip(true);
  }

  void ReadSome() {
    parser_->get().body().data = body_buffer_.get();
    parser_->get().body().size = kBodyBufferBytes;
    stream_.expires_after(request_.read_timeout);
    bhttp::async_read_some(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(error_code ec) {
    if (done_) return;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      Finish(ErrorStatus(ec, "reading the response"));
      return;
    }
    if (!headers_reported_ && parser_->is_header_done()) {
      const int status = static_cast<int>(parser_->get().result_int());
      if (status / 100 == 1 && status != 101) {  // interim (100 Continue): skip it
        NewParser();
        ReadSome();
        return;
      }
      headers_reported_ = true;
      if (callbacks_.on_status_headers) {
        Headers headers;
        for (const auto& field : parser_->get()) {
          headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        callbacks_.on_status_headers(status, headers);
      }
    }
    const size_t received = kBodyBufferBytes - parser_->get().body().size;
    if (received > 0 && callbacks_.on_body_chunk) {
      callbacks_.on_body_chunk(std::string_view(body_buffer_.get(), received));
    }
    if (done_) return;
    if (parser_->is_done()) {
      Finish(absl::OkStatus());
    } else {
      ReadSome();
    }
  }

  void Finish(absl::Status status) {
    if (done_) return;
    done_ = true;
    resolver_.cancel();
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    auto on_done = std::move(callbacks_.on_done);
    callbacks_ = {};  // release whatever the callbacks captured
    if (on_done) on_done(std::move(status));
  }

  net::any_io_executor strand_;
  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<char[]> body_buffer_;
  ClientRequest request_;
  ClientCallbacks callbacks_;
  std::string wire_;
  bool headers_reported_ = false;
  bool done_ = false;
};

}  // namespace

std::shared_ptr<ClientCall> HttpClient::Request(ClientRequest request, ClientCallbacks callbacks) {
  auto call = std::make_shared<Call>(ioc_, std::move(request), std::move(callbacks));
  call->Start();
  return call;
}

std::optional<std::string> ClientResponse::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

absl::StatusOr<ClientResponse> Fetch(ClientRequest request) {
  net::io_context ioc;
  ClientResponse response;
  absl::Status result = absl::UnknownError("request did not finish");
  HttpClient client(ioc);
  client.Request(std::move(request),
                 {.on_status_headers =
                      [&](int status, const Headers& headers) {
                        response.status = status;
                        response.headers = headers;
                      },
                  .on_body_chunk = [&](std::string_view chunk) { response.body.append(chunk); },
                  .on_done = [&](absl::Status status) { result = std::move(status); }});
  try {
    ioc.run();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HTTP client: ", e.what()));
  }
  if (!result.ok()) return result;
  return response;
}

}  // namespace surge::server::http

#include "server/http/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/logging.h"
#include "server/http/client.h"

namespace surge::server::http::testing {

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConnection::ReadMore(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || peer_closed_) return false;
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return true;  // nothing yet; not closed
  char chunk[16384];
  const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    peer_closed_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

std::string RawConnection::ReadUntil(std::string_view marker, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffer_.find(marker) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !ReadMore(std::min(left, std::chrono::milliseconds(50)))) break;
  }
  std::string out = std::move(buffer_);
  buffer_.clear();
  return out;
}

std::string RawConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!ReadMore(std::chrono::milliseconds(50))) break;
  }
  std::string out = std::move(buffer_);
  buffer_.clear();
  return out;
}

std::string RawConnection::ReadResponse(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const size_t head_end = buffer_.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      const size_t field = buffer_.find("Content-Length: ");
      if (field != std::string::npos && field < head_end) {
        length = std::strtoul(buffer_.c_str() + field + 16, nullptr, 10);
      }
      const size_t total = head_end + 4 + length;
      if (buffer_.size() >= total) {
        std::string out = buffer_.substr(0, total);
        buffer_.erase(0, total);
        return out;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !ReadMore(std::min(left, std::chrono::milliseconds(50)))) {
      return std::exchange(buffer_, {});
    }
  }
}

bool RawConnection::WaitForClose(std::chrono::milliseconds timeout) {
  ReadUntilClose(timeout);
  return peer_closed_;
}

int StatusOf(std::string_view response) {
  if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

std::string BodyOf(std::string_view response) {
  const size_t head_end = response.find("\r\n\r\n");
  return head_end == std::string_view::npos ? "" : std::string(response.substr(head_end + 4));
}

bool IsErrorBody(std::string_view json, std::string_view code, std::string_view type) {
  const std::string tail = R"(","type":")" + std::string(type) + R"(","param":null,"code":")" +
                           std::string(code) + R"("}})";
  return json.find(R"({"error":{"message":")") == 0 && json.size() > tail.size() &&
         json.substr(json.size() - tail.size()) == tail;
}

Probe::Probe(uint16_t port) {
  thread_ = std::jthread([this, port] {
    while (!stop_.load()) {
      ClientRequest request;
      request.port = port;
      request.target = "/ok";
      request.read_timeout = std::chrono::seconds(5);
      auto response = Fetch(request);
      if (response.ok() && response->status == 200) {
        successes_.fetch_add(1);
      } else {
        failures_.fetch_add(1);
        SURGE_LOG_ERROR("probe failed: {}", response.ok() ? std::to_string(response->status)
                                                          : response.status().ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

void Probe::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace surge::server::http::testing

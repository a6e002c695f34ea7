#pragma once
// A local HTTP/1.1 receiver for tests: a thread with a loopback socket server that records
// every request and answers from a script (status, Retry-After, delay). Each connection
// serves one request and closes. stop()/start() on the same port simulates an endpoint that
// refuses connections for a while.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sw::testing {

struct ReceivedRequest {
  std::string method, path, body;
  std::vector<std::string> headers;
  int64_t at_ms = 0;       // steady clock ms when the request was read
  int64_t wall_at_ms = 0;  // wall clock (epoch) ms, same instant
  int status = 0;          // what we answered
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::string retry_after;  // header value, empty = none
  int delay_ms = 0;         // sleep before answering
};

inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class HttpReceiver {
 public:
  HttpReceiver() { start(0); }
  ~HttpReceiver() { stop(); }

  //! Replies to use for the next requests, in order; when empty, `default_reply`.
  void script(std::vector<Reply> replies) {
    std::lock_guard lk(mu_);
    for (auto& r : replies) script_.push_back(std::move(r));
  }
  void set_default(Reply r) {
    std::lock_guard lk(mu_);
    default_ = std::move(r);
  }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard lk(mu_);
    return requests_.size();
  }
  //! Waits until `pred(requests)` holds or the timeout passes.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                int timeout_ms = 10000) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return pred(requests_); });
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  void start(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
    }
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    running_ = true;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    if (!running_) return;
    running_ = false;
    thread_.join();
    ::close(fd_);
  }
  //! Restarts on the same port after stop().
  void restart() { start(port_); }

 private:
  void loop() {
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }

  void serve(int c) {
    std::string buf;
    char tmp[4096];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    int64_t deadline = steady_ms() + 5000;
    while (steady_ms() < deadline) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = buf.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::string head = buf.substr(0, header_end);
          for (size_t i = 0; i < head.size(); ++i)
            head[i] = static_cast<char>(std::tolower(head[i]));
          size_t cl = head.find("content-length:");
          if (cl != std::string::npos) content_length = std::stoul(head.substr(cl + 15));
        }
      }
      if (header_end != std::string::npos && buf.size() >= header_end + 4 + content_length) break;
    }
    if (header_end == std::string::npos) return;
    ReceivedRequest r;
    r.at_ms = steady_ms();
    r.wall_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    std::string head = buf.substr(0, header_end);
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    r.method = line.substr(0, sp1);
    r.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      r.headers.push_back(head.substr(pos, e - pos));
      pos = e + 2;
    }
    r.body = buf.substr(header_end + 4, content_length);
    Reply reply;
    {
      std::lock_guard lk(mu_);
      if (!script_.empty()) {
        reply = script_.front();
        script_.pop_front();
      } else {
        reply = default_;
      }
    }
    if (reply.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(reply.delay_ms));
    std::string resp = "HTTP/1.1 " + std::to_string(reply.status) +
                       " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                       "\r\nConnection: close\r\n";
    if (!reply.retry_after.empty()) resp += "Retry-After: " + reply.retry_after + "\r\n";
    resp += "\r\n" + reply.body;
    // Record before answering: once a client has its response, the request is visible.
    r.status = reply.status;
    {
      std::lock_guard lk(mu_);
      requests_.push_back(std::move(r));
    }
    cv_.notify_all();
    ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Reply> script_;
  Reply default_;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace sw::testing

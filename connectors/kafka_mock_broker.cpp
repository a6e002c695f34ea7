#include "connectors/kafka_mock_broker.h"

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "connectors/kafka_common.h"

namespace sw {

namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Relays every connection accepted on 127.0.0.1:<port> to one upstream address.
class Forwarder {
 public:
  Forwarder(int port, const std::string& upstream) {
    size_t colon = upstream.rfind(':');
    upstream_port_ = std::stoi(upstream.substr(colon + 1));
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      std::string why = std::strerror(errno);
      ::close(listen_fd_);
      throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + why);
    }
    if (::pipe2(wake_, O_CLOEXEC) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Forwarder() {
    stop_ = true;
    char c = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

 private:
  int connect_upstream() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }

  void run() {
    std::vector<pollfd> fds;
    char buf[65536];
    while (!stop_) {
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      for (auto& [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[0].revents) break;
      if (fds[1].revents & POLLIN) {
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          int up = connect_upstream();
          if (up < 0) {
            ::close(client);
          } else {
            pairs_.emplace_back(client, up);
          }
        }
      }
      std::vector<size_t> dead;
      for (size_t i = 0; i < pairs_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
        for (int dir = 0; dir < 2; ++dir) {
          const pollfd& p = fds[2 + 2 * i + dir];
          if (!p.revents) continue;
          int from = dir == 0 ? pairs_[i].first : pairs_[i].second;
          int to = dir == 0 ? pairs_[i].second : pairs_[i].first;
          ssize_t n = ::recv(from, buf, sizeof(buf), 0);
          if (n <= 0 || !write_all(to, buf, static_cast<size_t>(n))) {
            dead.push_back(i);
            break;
          }
        }
      }
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        ::close(pairs_[*it].first);
        ::close(pairs_[*it].second);
        pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(*it));
      }
    }
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int upstream_port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<std::pair<int, int>> pairs_;
  std::thread thread_;
};

}  // namespace

struct KafkaMockBroker::Impl {
  kafka::HandlePtr rk;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::unique_ptr<Forwarder> forwarder;
  ~Impl() {
    forwarder.reset();
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
  }
};

std::unique_ptr<KafkaMockBroker> KafkaMockBroker::start(const Options& options) {
  std::unique_ptr<KafkaMockBroker> b(new KafkaMockBroker());
  b->impl_ = std::make_unique<Impl>();
  // The handle only anchors the cluster; it never connects anywhere.
  kafka::ConfPtr conf(rd_kafka_conf_new());
  char err[256];
  rd_kafka_conf_set(conf.get(), "log_level", "3", err, sizeof(err));
  b->impl_->rk = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(conf));
  b->impl_->cluster = rd_kafka_mock_cluster_new(b->impl_->rk.get(), options.brokers);
  if (!b->impl_->cluster) throw std::runtime_error("cannot create the mock Kafka cluster");
  for (const std::string& t : options.topics) {
    Status s = b->create_topic(t, options.partitions);
    if (!s.is_ok()) throw std::runtime_error(s.message());
  }
  std::string own = rd_kafka_mock_cluster_bootstraps(b->impl_->cluster);
  if (options.port > 0) {
    b->impl_->forwarder = std::make_unique<Forwarder>(options.port, own.substr(0, own.find(',')));
    b->bootstrap_ = "127.0.0.1:" + std::to_string(options.port);
  } else {
    b->bootstrap_ = own;
  }
  return b;
}

KafkaMockBroker::~KafkaMockBroker() = default;

Status KafkaMockBroker::create_topic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::invalid("create topic " + topic + ": " + rd_kafka_err2str(e));
  }
  return Status::ok();
}

Status KafkaMockBroker::set_broker_down(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::ok() : Status::invalid(rd_kafka_err2str(e));
}

Status KafkaMockBroker::set_broker_up(int32_t broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(impl_->cluster, broker_id);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::ok() : Status::invalid(rd_kafka_err2str(e));
}

Status KafkaMockBroker::set_broker_rtt(int32_t broker_id, int rtt_ms) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, rtt_ms);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::ok() : Status::invalid(rd_kafka_err2str(e));
}

void KafkaMockBroker::push_request_errors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> errs;
  for (int e : errors) errs.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, api_key, errs.size(), errs.data());
}

}  // namespace sw

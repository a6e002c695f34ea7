// `shelfwatch broker`: the development/test Kafka broker (librdkafka's mock cluster).

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "connectors/kafka_mock_broker.h"

namespace sw::cli {

namespace {

const char* const kBrokerHelp =
    "usage: shelfwatch broker [--port 9092] [--partitions N] [--topics a,b,...]\n\n"
    "Runs a development/test Kafka broker on loopback: librdkafka's in-process mock cluster,\n"
    "which speaks the Kafka protocol over TCP but keeps data in memory only (about 5 MB per\n"
    "partition; older records are dropped) and does not implement transactions faithfully.\n"
    "Never use it in production. Prints the bootstrap address on stdout and runs until\n"
    "SIGINT/SIGTERM.\n\n"
    "  --port N        bootstrap port on 127.0.0.1 (default 9092; 0 = the mock's own port)\n"
    "  --partitions N  partitions per created topic (default 4)\n"
    "  --topics LIST   topics to create (default: shelfwatch.events and the output topics)\n"
    "  --control       read fault-injection commands from stdin, one per line (tests):\n"
    "                    down ID | up ID          broker ID refuses/accepts connections\n"
    "                    rtt ID MS                broker ID answers MS ms later (0: off)\n"
    "                    errors produce|fetch N [CODE]\n"
    "                                             the next N requests fail with Kafka\n"
    "                                             error CODE (default 6, not leader)\n\n"
    "example:\n"
    "  shelfwatch broker --port 9092 --partitions 8 --topics shelfwatch.events\n";

const char* const kDefaultTopics =
    "shelfwatch.events,shelfwatch.alerts,shelfwatch.forecasts,shelfwatch.price-triggers,"
    "shelfwatch.replenishment,shelfwatch.dlq,shelfwatch.late,shelfwatch.scores";

std::atomic<bool> g_broker_stop{false};

// Applies one control line; returns a message for stderr.
std::string control(KafkaMockBroker& broker, const std::string& line) {
  std::istringstream in(line);
  std::string cmd, what;
  in >> cmd;
  if (cmd == "down" || cmd == "up") {
    int id = 1;
    in >> id;
    Status s = cmd == "down" ? broker.set_broker_down(id) : broker.set_broker_up(id);
    return s.is_ok() ? "broker " + std::to_string(id) + " " + cmd : s.message();
  }
  if (cmd == "rtt") {
    int id = 1, ms = 0;
    in >> id >> ms;
    Status s = broker.set_broker_rtt(id, ms);
    return s.is_ok() ? "broker " + std::to_string(id) + " rtt " + std::to_string(ms) + " ms"
                     : s.message();
  }
  if (cmd == "errors") {
    int count = 0, code = 6;
    in >> what >> count;
    if (!(in >> code)) code = 6;
    if ((what != "produce" && what != "fetch") || count <= 0)
      return "usage: errors produce|fetch N [CODE]";
    broker.push_request_errors(
        what == "produce" ? KafkaMockBroker::kApiProduce : KafkaMockBroker::kApiFetch,
        std::vector<int>(static_cast<size_t>(count), code));
    return "next " + std::to_string(count) + " " + what + " requests fail with error " +
           std::to_string(code);
  }
  return "unknown command: " + line;
}
void on_broker_signal(int) {
  g_broker_stop = true;
}

int parse_int(const std::string& flag, const std::string& v, int min, int max) {
  try {
    size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size() && n >= min && n <= max) return n;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(flag + " must be a whole number between " + std::to_string(min) +
                              " and " + std::to_string(max) + ", got '" + v + "'");
}

}  // namespace

int broker_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kBrokerHelp, stdout);
    return 0;
  }
  KafkaMockBroker::Options options;
  options.port = 9092;
  std::string v;
  if (value_of(args, "--port", v)) options.port = parse_int("--port", v, 0, 65535);
  if (value_of(args, "--partitions", v)) options.partitions = parse_int("--partitions", v, 1, 1024);
  std::string topics = kDefaultTopics;
  value_of(args, "--topics", topics);
  size_t pos = 0;
  while (pos <= topics.size()) {
    size_t comma = topics.find(',', pos);
    if (comma == std::string::npos) comma = topics.size();
    std::string t = topics.substr(pos, comma - pos);
    if (!t.empty()) options.topics.push_back(t);
    pos = comma + 1;
  }
  std::unique_ptr<KafkaMockBroker> broker = KafkaMockBroker::start(options);
  std::signal(SIGINT, on_broker_signal);
  std::signal(SIGTERM, on_broker_signal);
  std::printf("%s\n", broker->bootstrap().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "shelfwatch broker: development/test Kafka broker (librdkafka mock cluster) on %s, "
               "%zu topics x %d partitions; Ctrl-C to stop\n",
               broker->bootstrap().c_str(), options.topics.size(), options.partitions);
  bool control_stdin = false;
  for (const auto& a : args) control_stdin |= a == "--control";
  std::string pending;
  while (!g_broker_stop.load()) {
    if (!control_stdin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    pollfd pfd{0, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(0, buf, sizeof(buf));
    if (n <= 0) {
      control_stdin = false;  // stdin closed: keep running until a signal
      continue;
    }
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty()) {
        std::fprintf(stderr, "shelfwatch broker: %s\n", control(*broker, line).c_str());
      }
    }
  }
  std::fprintf(stderr, "shelfwatch broker: stopped\n");
  return 0;
}

}  // namespace sw::cli

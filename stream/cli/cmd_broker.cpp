// `shelfwatch broker`: the development/test Kafka broker (librdkafka's mock cluster).

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "connectors/kafka_mock_broker.h"
#include "stream/cli/commands.h"

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
    "  --topics LIST   topics to create (default: shelfwatch.events and the output topics)\n\n"
    "example:\n"
    "  shelfwatch broker --port 9092 --partitions 8 --topics shelfwatch.events\n";

const char* const kDefaultTopics =
    "shelfwatch.events,shelfwatch.alerts,shelfwatch.forecasts,shelfwatch.price-triggers,"
    "shelfwatch.replenishment,shelfwatch.dlq,shelfwatch.late,shelfwatch.scores";

std::atomic<bool> g_broker_stop{false};
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
  while (!g_broker_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "shelfwatch broker: stopped\n");
  return 0;
}

}  // namespace sw::cli

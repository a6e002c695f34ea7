// `shelfwatch` entry point: dispatches to subcommands (cli/commands.h).

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*fn)(const sw::cli::Args&);
  const char* summary;
};

const Command kCommands[] = {
    {"run", sw::cli::run_command, "run a pipeline from a config file"},
    {"validate", sw::cli::validate_command, "check a config file and print the effective keys"},
    {"inspect", sw::cli::inspect_command, "print checkpointed state as JSON (offline)"},
    {"gen", sw::cli::gen_command, "generate a deterministic synthetic retail event stream"},
    {"broker", sw::cli::broker_command, "run a development/test Kafka broker (mock cluster)"},
    {"score-csv", sw::cli::score_csv_command,
     "score NAB-style CSV series with the anomaly operator"},
    {"backtest", sw::cli::backtest_command, "replay a history and score the forecasts"},
    {"simulate", sw::cli::simulate_command,
     "Monte Carlo price what-if for one key from checkpointed state"},
    {"backup", sw::cli::backup_command, "copy a state directory's checkpoint, online"},
    {"restore", sw::cli::restore_command, "put a backup back as a state directory"},
    {"explain", sw::cli::explain_command, "print the evidence chain of an alert or trigger"},
};

void usage(FILE* out) {
  std::fprintf(out,
               "shelfwatch — stateful stream processor for retail signals\n\n"
               "usage: shelfwatch <command> [options]   (shelfwatch <command> --help)\n\n"
               "commands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nexamples:\n"
               "  shelfwatch gen --stores 20 --skus 200 --days 60 --seed 7 --out events.jsonl\n"
               "  shelfwatch run --config examples/demo.yaml --set source.file.path=events.jsonl\n"
               "  shelfwatch inspect --state state --store S0001 --sku SKU-000001\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  sw::cli::Args args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) {
      try {
        return c.fn(args);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shelfwatch %s: %s\n", c.name, e.what());
        return 2;
      }
    }
  }
  std::fprintf(stderr, "shelfwatch: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

#pragma once
// Subcommands of the `shelfwatch` CLI. Each takes its arguments after the command name,
// prints its own --help, and returns the process exit code.

#include <string>
#include <vector>

namespace sw::cli {

using Args = std::vector<std::string>;

int run_command(const Args& args);        // cli/cmd_run.cpp
int validate_command(const Args& args);   // cli/cmd_run.cpp
int inspect_command(const Args& args);    // cli/cmd_inspect.cpp
int gen_command(const Args& args);        // cli/cmd_gen.cpp
int broker_command(const Args& args);     // cli/cmd_broker.cpp
int score_csv_command(const Args& args);  // cli/cmd_score_csv.cpp
int backtest_command(const Args& args);   // cli/cmd_backtest.cpp
int simulate_command(const Args& args);   // cli/cmd_simulate.cpp
int backup_command(const Args& args);     // cli/cmd_backup.cpp
int restore_command(const Args& args);    // cli/cmd_backup.cpp
int explain_command(const Args& args);    // cli/cmd_explain.cpp

//! True if args contain --help or -h.
bool wants_help(const Args& args);
//! Value of `--name VALUE` or `--name=VALUE`; repeated flags are collected by values_of.
bool value_of(const Args& args, const std::string& name, std::string& out);
std::vector<std::string> values_of(const Args& args, const std::string& name);

}  // namespace sw::cli

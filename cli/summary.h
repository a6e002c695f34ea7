#pragma once
// End-of-run summary: accounting, DLQ by reason, alerts by type and severity, the most
// urgent open alerts, and where the outputs are. Alerts are read back from the file sink's
// alerts.jsonl, so the summary shows exactly what was delivered.

#include <cstdio>
#include <string>

#include "stream/counters.h"

namespace sw::cli {

void print_summary(FILE* out, const TaskCounters& counters, const std::string& output_dir,
                   const std::string& state_dir, double seconds);

}  // namespace sw::cli

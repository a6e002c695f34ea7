#pragma once
// Start-up audit log of `shelfwatch run`: the effective configuration (secrets and URL
// credentials redacted, Config::dump()) and its config_version, and the difference from the
// previous run's, which is kept in the state store (namespace "audit", key "config").

#include <cstdio>

#include "cli/pipeline.h"
#include "stream/config.h"

namespace sw::cli {

//! Prints the effective configuration and its diff from the previous run's to `out`, then
//! records it in the state store. A failed write is reported and does not stop the run.
void log_effective_config(const Config& config, Pipeline& p, FILE* out);

}  // namespace sw::cli

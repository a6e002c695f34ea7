#pragma once
// Provenance of output records (docs/contract.md "Provenance"): every output record — alerts,
// forecasts, replenishment, price triggers, dlq, late, scores — ends with the same members,
// written by JsonWriter::stamp():
//   "schema_version":1,"config_version":"<12 hex>","versions":{"state":3,"model":1}
// config_version is a hash of the configuration keys that determine outputs (operators,
// event time, regions, calendars; config_version() lists them), so it is equal across
// batch sizes, layouts, sources, sinks and restarts, as the outputs themselves are.
//
// Lifecycle: the CLI sets the config version at start-up (open_pipeline), before any task
// renders, and again when a hot reload changes covered settings (reload_pipeline, on the task
// thread between batches); renderers only read it, on the task thread.

#include <string>
#include <string_view>
#include <vector>

namespace sw {

class Config;

//! Checkpoint format (the task meta record's version, stream/checkpointer.cpp).
inline constexpr int kStateFormatVersion = 3;
//! Analytics version: bumped by any change that alters outputs for the same input and
//! configuration (a formula, a default, a threshold rule).
inline constexpr int kModelVersion = 1;

//! The pre-rendered provenance members, without braces.
const std::string& output_stamp();
//! Sets the config version in output_stamp(); before any task runs.
void set_output_config_version(std::string_view version);
//! 12 hex digits of XXH3 over the names of the operators that run (`enabled_operators`, in
//! any order) and the covered keys ("key: value" lines of Config::dump(), in key order):
//! operators.<name>.* of those operators except `enabled`, regions.*, calendar.*,
//! pipeline.out_of_orderness, pipeline.allowed_lateness, pipeline.dedup_capacity,
//! pipeline.max_record_bytes, pipeline.max_future, pipeline.max_future_replay. Secrets are
//! never covered. Keys are hashed as written: a key set to its default differs from an
//! absent one (operators' `enabled` excepted: what counts is which operators run).
std::string config_version(const Config& config, std::vector<std::string> enabled_operators);
//! True when `key` is covered by config_version().
bool config_version_covers(std::string_view key);

}  // namespace sw

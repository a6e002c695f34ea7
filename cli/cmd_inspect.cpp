// `shelfwatch inspect`: prints checkpointed state offline as JSON.

#include <cstdio>

#include "cli/commands.h"
#include "cli/pipeline.h"
#include "stream/json_writer.h"

namespace sw::cli {

namespace {

const char* const kHelp =
    "usage: shelfwatch inspect --state DIR [--store S --sku K] [--config FILE]\n\n"
    "Prints the last checkpoint in DIR as JSON: key counts, checkpointed source positions,\n"
    "watermark and accounting, and with --store/--sku one key's state per operator.\n"
    "Pass the run's --config when it enables operators other than the defaults; with\n"
    "state.changelog.enabled it also shows the changelog's last complete checkpoint and lag.\n\n"
    "example:\n"
    "  shelfwatch inspect --state state --store S0001 --sku SKU-000001\n";

}  // namespace

int inspect_command(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::string dir, store_name, sku, config_path;
  if (!value_of(args, "--state", dir)) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  value_of(args, "--store", store_name);
  value_of(args, "--sku", sku);
  Config config = value_of(args, "--config", config_path) ? Config::from_file(config_path)
                                                          : Config::from_yaml(kDefaultConfig);
  RestoredCheckpoint checkpoint;
  Status s = restore_checkpoint(config, dir, checkpoint);
  Pipeline& p = checkpoint.pipeline;
  if (!s.is_ok()) {
    std::fprintf(stderr, "shelfwatch inspect: %s\n", s.to_string().c_str());
    return 1;
  }
  Task& task = *p.task;
  const TaskCounters& c = task.counters();
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .field("state_dir", dir)
      .field("checkpoint_found", task.restored_from_checkpoint());
  w.field("keys", static_cast<uint64_t>(task.keys().size()))
      .field("stores", static_cast<uint64_t>(task.keys().store_count()))
      .field("skus", static_cast<uint64_t>(task.keys().sku_count()));
  w.key("watermark");
  if (c.watermark_ms.load() == INT64_MIN)
    w.null();
  else if (c.watermark_ms.load() == INT64_MAX)
    w.value("end-of-input");
  else
    w.time_value(c.watermark_ms.load());
  w.key("positions").begin_array();
  for (const SourcePosition& pos : checkpoint.positions()) {
    w.begin_object()
        .field("partition", static_cast<int64_t>(pos.partition))
        .field("next_offset", pos.next_offset)
        .field("lines", pos.line)
        .end_object();
  }
  w.end_array();
  w.key("accounting")
      .begin_object()
      .field("read", c.read.load())
      .field("applied", TaskCounters::sum(c.applied))
      .field("duplicates", TaskCounters::sum(c.duplicates))
      .field("dead_lettered", TaskCounters::sum(c.dead_lettered))
      .field("late", TaskCounters::sum(c.late))
      .field("checkpoints", c.checkpoints.load())
      .end_object();
  if (p.options.changelog.enabled) {
    // state.changelog (docs/changelog.md): what the changelog holds, read from the brokers.
    auto described = ChangelogStore::describe(p.options.changelog, checkpoint.store.get());
    w.key("changelog");
    if (described.is_ok()) {
      w.raw(described.value());
    } else {
      w.begin_object().field("error", described.status().message()).end_object();
    }
  }
  if (!store_name.empty() || !sku.empty()) {
    KeyId key = task.keys().find(store_name, sku);
    w.key("key").begin_object().field("store", store_name).field("sku", sku);
    if (key == kNoKey) {
      w.field("found", false);
    } else {
      w.field("found", true).field("key_id", static_cast<uint64_t>(key));
      for (Operator* op : p.options.operators.pointers())
        w.key(op->name()).raw(op->describe(key, task.keys()));
    }
    w.end_object();
  }
  w.end_object();
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace sw::cli

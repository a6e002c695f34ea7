#pragma once
// Changelog of the state store (issue 17, docs/changelog.md): a StateStore decorator that
// keeps the local store (RocksDB) as the fast path and copies every checkpoint to compacted
// Kafka topics, one per state namespace (`<application>-<namespace>-changelog`), followed by
// a checkpoint marker (`<application>-changelog-checkpoints`) that names, per changelog
// partition, the offset up to which the records belong to complete checkpoints, and carries
// the source positions and output high-water marks of the checkpoint.
//
// commit(batch):  local "dirty" flag (synced) -> the batch, locally (synced WAL) -> its ops to
//   the changelog (tombstones for removes; a remove_prefix becomes tombstones of the keys the
//   namespace held, read from the local store before applying) -> flush, every record
//   acknowledged (idempotent producer) -> the marker, acknowledged -> local "clean <id>".
// open(): compares the local record with the last marker:
//   clean and equal          -> nothing to do (the usual start);
//   no local record / older  -> restore: the local store is rebuilt from the changelog records
//                               before the marker's offsets (later ones are an incomplete
//                               checkpoint: ignored, and their keys republished from the
//                               restored state before the next marker);
//   dirty / newer / no marker-> republish: the local state is authoritative; every local entry
//                               is produced again and every changelog key it lacks is
//                               tombstoned, then a marker.
// Threading: commit() is serialised by a mutex (the checkpointer thread and the delivery
// sink's acknowledgements both commit); get/scan go straight to the local store.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka_options.h"
#include "stream/config.h"
#include "stream/probe.h"
#include "stream/state_store.h"

namespace sw {

//! state.changelog.* (README config table, docs/changelog.md).
struct ChangelogOptions {
  bool enabled = false;
  std::string application;  // topic prefix; default: the Kafka group id
  int partitions = 1;       // of each changelog topic it creates
  int replication = -1;     // -1: the broker's default
  int64_t min_compaction_lag_ms = 24LL * 3600 * 1000;
  int64_t timeout_ms = 60000;               // per flush / read without progress
  std::vector<kafka::Property> properties;  // bootstrap.servers + kafka.properties.*
  //! Where the changelog_* metrics go (null: the store makes its own). A caller that serves
  //! /metrics while open() restores (run) registers this probe first: the restore progress
  //! (changelog_restoring, changelog_restore_records/_bytes/_seconds) is updated live.
  std::shared_ptr<Probe> probe;
};

//! Reads and checks state.changelog.* (and kafka.brokers / kafka.properties.* when enabled);
//! throws ConfigError naming the key. Enabled without kafka.brokers is an error.
ChangelogOptions changelog_options(const Config& cfg, const std::string& default_application);

//! `<application>-<namespace>-changelog`; characters other than [A-Za-z0-9._-] become '.'.
std::string changelog_topic(const std::string& application, std::string_view ns);
//! `<application>-changelog-checkpoints`: the markers (one record per checkpoint, key
//! "checkpoint", partition 0).
std::string changelog_marker_topic(const std::string& application);

class ChangelogStore final : public StateStore {
 public:
  enum class Start { kLocal, kRestored, kRepublished };
  //! Connects, compares the local state with the changelog and restores or republishes as
  //! above. Errors name the topic and the broker problem.
  static Result<std::unique_ptr<ChangelogStore>> open(ChangelogOptions options,
                                                      std::unique_ptr<StateStore> local);
  ~ChangelogStore() override;

  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override;
  Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  Status scan_all(const std::function<bool(std::string_view, std::string_view, std::string_view)>&
                      fn) const override;
  Status commit(const StateBatch& batch) override;

  StateStore& local() const;
  Start start() const;
  //! One line for the log: what open() did (restored N records / republished / local).
  const std::string& start_message() const;
  //! changelog_* metrics: restore records/bytes/seconds, lag, published records.
  Probe* probe();

  //! What `inspect` shows, as a JSON object: the last complete checkpoint in the changelog,
  //! the local record of `local` (if given), per topic the records up to the checkpoint and
  //! after it (an incomplete checkpoint: the changelog lag), the output high-water marks.
  static Result<std::string> describe(const ChangelogOptions& options, const StateStore* local);

  //! The namespace of the decorator's own local record (never published).
  static constexpr std::string_view kLocalNs = "_changelog";

 private:
  ChangelogStore();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sw

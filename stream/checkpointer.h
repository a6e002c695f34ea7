#pragma once
// The checkpointer of a task (DESIGN.md §5, §7): commits what the task snapshotted into a
// StateBatch together with the sinks' staged outputs and the source positions, atomically,
// on a background thread; and reads the task's own records (key index chunks, meta) back.
//
// Protocol per checkpoint, driven by Task::checkpoint() on the task thread:
//   wait() -> batch() is filled (operators, keys, dedup window, meta) -> commit(outputs,
//   positions). exactly_once: the committer thread lets the sinks prepare the interval's
//   outputs into the batch, commits it, then calls Sink::committed() (the sinks release).
//   at_least_once: outputs went out per batch through release(); commit() first drains the
//   sinks (every released output acknowledged) so positions never pass an unacknowledged
//   output, then commits in the background.
// At most one commit is in flight; wait() joins it and, on success, tells the source its
// positions are durable (Source::on_checkpoint).
//
// Ownership: owned by its Task; holds references to the store, source and sinks, which
// outlive it. Threading: every member function runs on the task thread; the committer thread
// runs at +commit_nice (Linux per-thread nice) and touches only the batch, records and sinks
// it was handed. Failures: a failed commit is returned by the next wait() (and counted in
// checkpoint_failures); the task then stops, and the last successful checkpoint stands.

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "stream/counters.h"
#include "stream/event_clock.h"
#include "stream/key_index.h"
#include "stream/output.h"
#include "stream/sink.h"
#include "stream/source.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw {

//! Per-origin output sequence numbers (origin = source partition).
using OutputSeqs = std::vector<std::pair<uint32_t, uint64_t>>;

class Checkpointer {
 public:
  Checkpointer(StateStore& store, Source& source, std::vector<Sink*> sinks, TaskCounters& counters,
               bool exactly_once, int commit_nice);
  //! Waits for the in-flight commit (its error is dropped: call wait() first to see it).
  ~Checkpointer();

  //! Waits for the in-flight commit; returns its status.
  [[nodiscard]] Status wait();
  //! The batch the next checkpoint fills, emptied. Only between wait() and commit().
  StateBatch& next_batch() {
    batch_.clear();
    return batch_;
  }
  //! Hands next_batch() to the committer thread with `positions`. exactly_once: takes `outputs`
  //! (left empty) for the sinks to stage; at_least_once: releases `outputs` first.
  [[nodiscard]] Status commit(std::vector<OutputRecord>& outputs,
                              std::vector<SourcePosition> positions);
  //! at_least_once, per batch: hands `outputs` to the sinks now (left empty).
  [[nodiscard]] Status release(std::vector<OutputRecord>& outputs);
  //! Restores every sink to the last checkpoint.
  [[nodiscard]] Status recover_sinks();
  //! Final flush of every sink, after the last checkpoint.
  [[nodiscard]] Status close_sinks();

  //! Adds the keys of `keys` added since the last call to `batch` (in id order, in chunks).
  void snapshot_keys(const KeyIndex& keys, StateBatch& batch);
  //! Rebuilds `keys` (empty) from the checkpoint, with the ids of the uninterrupted run.
  [[nodiscard]] Status restore_keys(KeyIndex& keys);

  //! The task's meta record: clock, output sequence numbers and counters (version 2).
  static std::string encode_meta(const EventClock& clock, const OutputSeqs& seqs,
                                 const TaskCounters& counters);
  [[nodiscard]] static Status decode_meta(std::string_view v, EventClock& clock, OutputSeqs& seqs,
                                          TaskCounters& counters);
  void put_meta(StateBatch& batch, std::string meta);
  //! The last checkpoint's meta record, nullopt for a fresh store.
  Result<std::optional<std::string>> read_meta() const;

 private:
  void start_committer(bool with_sinks);
  Status commit_job(bool with_sinks);

  StateStore& store_;
  Source& source_;
  std::vector<Sink*> sinks_;
  TaskCounters& counters_;
  const bool exactly_once_;
  const int commit_nice_;
  size_t keys_persisted_ = 0;
  StateBatch eager_;  // at_least_once: sink entries committed before a release

  // The commit in flight.
  std::thread committer_;
  Status committer_status_;
  std::vector<OutputRecord> records_;
  StateBatch batch_;
  std::vector<SourcePosition> positions_;
};

}  // namespace sw

#pragma once
// Source seam: a source yields raw records (bytes + position). Decoding happens in the task
// (on its read-ahead thread for sources that allow it, stream/read_ahead.h).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stream/probe.h"
#include "stream/status.h"

namespace sw {

class StateBatch;
class StateStore;

struct RawRecord {
  std::string_view payload;  // valid until the next poll()
  // Bytes readable past payload.end() (simdjson padding); >= 64 guarantees in-place parsing.
  size_t readable_after = 0;
  int32_t partition = 0;
  int64_t offset = 0;       // file: byte offset of the line; Kafka: message offset
  int64_t next_offset = 0;  // position to resume from after this record
  int64_t line = 0;         // file: 1-based line number; Kafka: 0
  int64_t ingest_ms = 0;    // wall-clock time the record was read
  // > 0: the record was this many bytes long, more than the source buffers for one record,
  // and `payload` holds only its first kOversizePrefixBytes (the decoder dead-letters it
  // too_large without parsing).
  int64_t oversize_bytes = 0;
};

//! How much of a too_large record a source keeps and the dead-letter record carries.
inline constexpr size_t kOversizePrefixBytes = 1024;

//! Positions are "next offset to read" per partition; they are checkpointed with the state.
struct SourcePosition {
  int32_t partition = 0;
  int64_t next_offset = 0;
  int64_t line = 0;  // lines consumed so far (file sources), for DLQ positions after restart
};

class Source {
 public:
  virtual ~Source() = default;
  //! Appends up to `max` records to `out`; waits at most `timeout_ms` when nothing is ready.
  //! Previously returned payloads are invalidated.
  virtual Status poll(std::vector<RawRecord>& out, size_t max, int timeout_ms) = 0;
  //! True once a bounded source has delivered everything (never true in follow/stream mode).
  virtual bool at_end() const = 0;
  //! True for a replay: a source that has an end (a file read without follow, Kafka with
  //! stop_at_end). Event-time sanity checks a replay against the stream's own time, a live
  //! source against the wall clock (TaskOptions::max_future_ms).
  virtual bool bounded() const { return false; }
  //! Resume from checkpointed positions; called once before the first poll.
  virtual Status seek(const std::vector<SourcePosition>& positions) = 0;
  //! Human-readable name for DLQ positions: file path or topic.
  virtual std::string name() const = 0;
  //! Partitions that currently have no data and should not hold the watermark back.
  virtual bool partition_idle(int32_t /*partition*/) const { return false; }
  //! Partitions this source reads now (Kafka: its assignment), or empty when they are only
  //! known from their records (files). Each one holds the watermark back until it delivered
  //! an event or is idle, so the watermark does not depend on which partition is fetched
  //! first. The span stays valid until the next poll().
  virtual std::span<const int32_t> partitions() const { return {}; }
  //! Adds the source's own entries for the checkpoint of `positions` to `batch` (the file
  //! source: the identity of the file the position is in). Called on the task thread while
  //! poll() may run on the reader thread.
  virtual void snapshot(const std::vector<SourcePosition>& /*positions*/, StateBatch& /*batch*/) {}
  //! Reads those entries back; called once before seek().
  virtual Status restore(const StateStore& /*store*/) { return Status::ok(); }
  //! True if poll() hands records over in event-time order across partitions (the ordered
  //! merge, stream/partition_merge.h). The task's watermark then follows the largest event
  //! time of the applied sequence, as for a single partition, and partition_idle() and
  //! partitions() no longer hold it back: an idle or lagging partition is the merge's concern.
  virtual bool merges_partitions() const { return false; }
  //! Called after a checkpoint committed these positions (Kafka: commit offsets for lag tools).
  virtual void on_checkpoint(const std::vector<SourcePosition>& /*positions*/) {}
  //! True if poll() and at_end() may run on a reader thread of their own while the task
  //! thread calls partitions(), partition_idle(), on_checkpoint() and name() (their answers
  //! must not depend on poll state). Such sources are polled and decoded ahead
  //! (stream/read_ahead.h).
  virtual bool allows_read_ahead() const { return false; }
  //! Monitoring values (consumer lag, ...), rendered by connectors/metrics; null = none.
  virtual const Probe* probe() const { return nullptr; }
  //! Refreshes the probe from the source's state; called on the polling thread between
  //! batches when metrics are served.
  virtual void update_probe() {}
};

}  // namespace sw

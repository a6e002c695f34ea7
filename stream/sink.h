#pragma once
// Sink seam. Exactly-once protocol, driven by the task at every checkpoint:
//   1. prepare(records)   — records produced since the last checkpoint, in order. A sink
//      that can truncate (files) writes and syncs them now; a sink that cannot (Kafka, HTTP)
//      keeps them durable through the checkpoint (outbox entries in `batch`).
//   2. the task commits state + positions + every sink's checkpoint entries atomically.
//   3. committed() — a releasing sink sends what it staged.
// Recovery: recover(entries read back from the last checkpoint) before processing resumes.
// In at_least_once mode the task calls prepare()+committed() eagerly per batch (committed()
// may hand records to its destination without waiting for acknowledgements) and drain()
// before each checkpoint, so a checkpoint never records positions past an unacknowledged
// output.

#include <span>
#include <string>
#include <vector>

#include "stream/output.h"
#include "stream/state_store.h"
#include "stream/status.h"

namespace sw {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string name() const = 0;
  virtual Status prepare(std::span<const OutputRecord> records, StateBatch& batch) = 0;
  virtual Status committed() = 0;
  //! Waits until every record released by committed() so far is acknowledged by its
  //! destination; returns the first delivery failure. Sinks that finish in committed() need
  //! not override it.
  virtual Status drain() { return Status::ok(); }
  //! Restores the sink to the last committed checkpoint (truncate files, fence sequences).
  virtual Status recover(const StateStore& store) = 0;
  //! Final flush at shutdown (after the last checkpoint).
  virtual Status close() = 0;
};

}  // namespace sw

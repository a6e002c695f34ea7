#pragma once
// Read-ahead stage: a thread of its own polls the source and decodes whole batches while the
// task thread applies the previous ones, so JSON decoding (a quarter of the task thread's
// time at a million keys) overlaps with the state updates instead of adding to them.
//
// Decoding is shared: the reader polls up to kDepth batches ahead and decodes the oldest one
// nobody has claimed; the task, when the batch it needs next is not decoded yet, decodes it
// itself (or, if the reader is on it, a later polled one) instead of waiting. So a reader
// that loses its core for a while (to the checkpoint commit, RocksDB's flushes or another
// process) does not stall the task, and a fast task does not idle behind the reader.
//
// Order is preserved (one reader, batches handed over in poll order), so outputs do not
// change. Each batch owns copies of its payloads and of every decoded string, so nothing it
// hands over is invalidated by the reader's next poll. Only sources whose partition_idle()
// and on_checkpoint() do not depend on poll state can be read ahead
// (Source::allows_read_ahead); the task decodes on its own thread for the others.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "stream/decoder.h"
#include "stream/event.h"
#include "stream/source.h"
#include "stream/status.h"

namespace sw {

//! Every string field of Event (stream/event.h): what a copy of an event outliving its
//! decoder's buffer must copy (ReadAhead's batches, EventOrder's held events).
inline std::array<std::string_view*, 14> event_string_fields(Event& e) {
  return {&e.event_id,      &e.store,      &e.sku,      &e.channel,      &e.currency,
          &e.promo_id,      &e.competitor, &e.series,   &e.alert_id,     &e.by,
          &e.item.category, &e.po_id,      &e.supplier, &e.item.supplier};
}

//! One record after decoding: what the task's apply stage consumes.
struct DecodedRecord {
  const RawRecord* record = nullptr;
  Event event;
  DecodeError error = DecodeError::kNone;
  uint64_t key_hash = 0;                // KeyIndex::hash(store, sku); 0 = not keyed
  const std::string* detail = nullptr;  // decoder's message when error != kNone
};

class ReadAhead {
 public:
  struct Batch {
    std::vector<RawRecord> records;      // payload views point into `payloads`
    std::vector<DecodedRecord> decoded;  // the first records.size() are this batch's
    bool at_end = false;                 // the source was at its end after this batch
    Status status;                       // a poll error ends the stream
   private:
    friend class ReadAhead;
    enum class Stage : uint8_t { kFree, kPolled, kDecoding, kReady };
    Stage stage = Stage::kFree;     // guarded by ReadAhead::mu_
    std::string payloads;           // copies of the payloads, each followed by simdjson padding
    std::string strings;            // decoded string fields (reserved: never reallocates mid-batch)
    std::deque<std::string> spill;  // strings that did not fit (not expected)
    std::vector<std::string> details;  // error messages (reserved: stable addresses)
  };

  //! Batches in flight between the threads: the reader polls this far ahead at most.
  static constexpr size_t kDepth = 8;
  //! The reader polls ahead only while fewer polled batches than this wait for decoding.
  static constexpr size_t kPolledAhead = 2;

  ReadAhead(Source& source, size_t batch_size, size_t max_record_bytes);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  //! Starts the reader thread (after the source has been positioned).
  void start();
  //! The next batch in order, decoded, or nullptr if none arrived within `timeout_ms`
  //! (the calling thread may decode it, or a later one, itself). The batch stays valid until
  //! release(); call release() before asking for the next one. One consumer thread only.
  Batch* next(int timeout_ms);
  void release();
  //! Batches decoded so far by the reader thread and by the consumer (next()).
  uint64_t decoded_by_reader() const;
  uint64_t decoded_by_consumer() const;
  //! Stops and joins the reader (batches not yet taken are dropped; their records were not
  //! applied, so checkpointed positions do not cover them).
  void stop();

 private:
  void loop();
  //! Copies the polled payloads into `b` (reader thread, before publishing).
  void copy_payloads(Batch& b);
  //! Decodes a claimed batch with `decoder` (the claiming thread's own).
  static void decode(Batch& b, Decoder& decoder);
  static void keep(std::string_view& v, Batch& b);
  //! Oldest polled batch nobody decodes yet, or produced_ if none (mu_ held).
  uint64_t oldest_unclaimed() const;
  //! Decodes slot `no` (claimed under mu_), which `lock` holds, then marks it ready.
  void decode_claimed(uint64_t no, bool consumer, std::unique_lock<std::mutex>& lock);

  Source& source_;
  const size_t batch_size_;
  Decoder decoder_;       // the reader thread's
  Decoder task_decoder_;  // the consumer's (next())
  std::vector<RawRecord> polled_;
  std::unique_ptr<Batch[]> ring_;
  uint64_t produced_ = 0, consumed_ = 0;  // guarded by mu_
  uint64_t decoded_[2] = {0, 0};          // by the reader, by the consumer; guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable ready_, space_;
  std::thread thread_;
};

}  // namespace sw

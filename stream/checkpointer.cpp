#include "stream/checkpointer.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "stream/bytes.h"
#include "stream/output_stamp.h"

namespace sw {

namespace {
constexpr std::string_view kTaskNs = "task";
constexpr std::string_view kKeysNs = "keys";  // one key per entry (read for restore only)
// New keys of a checkpoint in chunks: key = be32 first id, value = per key the u32 length
// and bytes of the store, then of the sku. One entry per chunk instead of one per key.
constexpr std::string_view kKeyChunksNs = "key_chunks";
constexpr size_t kKeysPerChunk = 65536;
// Version 3 writes the number of dead-letter codes before their counts (version 2 had a
// fixed 11, before future_timestamp); both are read.
constexpr uint8_t kMetaVersion = kStateFormatVersion;  // stamped on every output record
constexpr uint8_t kMetaVersion2DeadLetterCodes = 11;
}  // namespace

Checkpointer::Checkpointer(StateStore& store, Source& source, std::vector<Sink*> sinks,
                           TaskCounters& counters, bool exactly_once, int commit_nice)
    : store_(store),
      source_(source),
      sinks_(std::move(sinks)),
      counters_(counters),
      exactly_once_(exactly_once),
      commit_nice_(commit_nice) {}

Checkpointer::~Checkpointer() {
  wait().permit_unchecked();
}

Status Checkpointer::wait() {
  if (!committer_.joinable()) return Status::ok();
  committer_.join();
  if (!committer_status_.is_ok()) {
    bump(counters_.checkpoint_failures);
    return committer_status_;
  }
  source_.on_checkpoint(positions_);
  return Status::ok();
}

Status Checkpointer::release(std::vector<OutputRecord>& outputs) {
  if (outputs.empty()) return Status::ok();
  // Sinks that stage durable entries (outboxes) get them committed before release; the state
  // itself is checkpointed on the interval as usual.
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->prepare(outputs, eager_));
  if (!eager_.empty()) {
    SW_RETURN_IF_ERROR(wait());  // one store commit at a time
    SW_RETURN_IF_ERROR(store_.commit(eager_));
  }
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->committed());
  outputs.clear();
  eager_.clear();
  return Status::ok();
}

Status Checkpointer::commit(std::vector<OutputRecord>& outputs,
                            std::vector<SourcePosition> positions) {
  positions_ = std::move(positions);
  if (exactly_once_) {
    records_.swap(outputs);
    outputs.clear();
    start_committer(true);
    return Status::ok();
  }
  // at_least_once: outputs were already released per batch, without waiting for their
  // acknowledgements; all of them must be acknowledged before positions past them commit.
  // Sinks are called on this thread only (run() calls them per batch); the store commit and
  // its fsync run in the background as in exactly_once.
  records_.clear();
  Status released = release(outputs);  // outputs of end_of_input() or of bare process()
  if (!released.is_ok()) {
    bump(counters_.checkpoint_failures);
    return released;
  }
  for (Sink* s : sinks_) {
    Status st = s->drain();
    if (st.is_ok()) st = s->prepare({}, batch_);
    if (!st.is_ok()) {
      bump(counters_.checkpoint_failures);
      return st;
    }
  }
  start_committer(false);
  return Status::ok();
}

void Checkpointer::start_committer(bool with_sinks) {
  committer_status_ = Status::ok();
  committer_ = std::thread([this, with_sinks] {
    if (commit_nice_ > 0) {
      // This thread only (Linux nice is per thread; it starts at its creator's): the commit
      // yields the cores to the task and reader threads and runs in their gaps; the task
      // waits for it at the next checkpoint at the latest. Advisory: a failure changes nothing.
      const id_t self = static_cast<id_t>(syscall(SYS_gettid));
      errno = 0;
      const int base = getpriority(PRIO_PROCESS, self);
      if (errno == 0) {
        (void)setpriority(PRIO_PROCESS, self, std::min(19, base + commit_nice_));
      }
    }
    committer_status_ = commit_job(with_sinks);
  });
}

Status Checkpointer::commit_job(bool with_sinks) {
  auto start = std::chrono::steady_clock::now();
  if (with_sinks) {
    for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->prepare(records_, batch_));
  }
  SW_RETURN_IF_ERROR(store_.commit(batch_));
  if (with_sinks) {
    for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->committed());
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  counters_.checkpoint_duration_us_last.store(static_cast<uint64_t>(us));
  bump(counters_.checkpoint_duration_us_total, static_cast<uint64_t>(us));
  counters_.checkpoint_bytes_last.store(batch_.bytes());
  records_.clear();
  batch_.clear();
  return Status::ok();
}

Status Checkpointer::recover_sinks() {
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->recover(store_));
  return Status::ok();
}

Status Checkpointer::close_sinks() {
  for (Sink* s : sinks_) SW_RETURN_IF_ERROR(s->close());
  return Status::ok();
}

void Checkpointer::snapshot_keys(const KeyIndex& keys, StateBatch& batch) {
  std::string v;
  for (size_t first = keys_persisted_; first < keys.size(); first += kKeysPerChunk) {
    v.clear();
    ByteWriter w(v);
    const size_t end = std::min(first + kKeysPerChunk, keys.size());
    for (size_t id = first; id < end; ++id) {
      w.put_string(keys.store(static_cast<KeyId>(id)));
      w.put_string(keys.sku(static_cast<KeyId>(id)));
    }
    batch.put(kKeyChunksNs, be32_key(static_cast<uint32_t>(first)), v);
  }
  keys_persisted_ = keys.size();
}

Status Checkpointer::restore_keys(KeyIndex& keys) {
  // Keys in id order: ids are identical to the uninterrupted run.
  Status scan_err = Status::ok();
  auto restore_key = [&](std::string_view store, std::string_view sku) {
    bool added;
    keys.find_or_add(KeyIndex::hash(store, sku), store, sku, added);
    if (!added) scan_err = Status::corruption("key index checkpoint repeats a key");
    return added;
  };
  // Older checkpoints: one entry per key, "store\x1fsku".
  SW_RETURN_IF_ERROR(store_.scan_prefix(kKeysNs, "", [&](std::string_view k, std::string_view v) {
    uint32_t id = from_be32(k);
    size_t sep = v.find('\x1f');
    if (id != keys.size() || sep == std::string_view::npos) {
      scan_err = Status::corruption("key index checkpoint is not dense");
      return false;
    }
    return restore_key(v.substr(0, sep), v.substr(sep + 1));
  }));
  SW_RETURN_IF_ERROR(scan_err);
  SW_RETURN_IF_ERROR(
      store_.scan_prefix(kKeyChunksNs, "", [&](std::string_view k, std::string_view v) {
        if (k.size() != 4 || from_be32(k) != keys.size()) {
          scan_err = Status::corruption("key index checkpoint is not dense");
          return false;
        }
        ByteReader r(v);
        std::string store, sku;
        while (!r.empty()) {
          if (!r.get_string(store) || !r.get_string(sku)) {
            scan_err = Status::corruption("key index checkpoint chunk is truncated");
            return false;
          }
          if (!restore_key(store, sku)) return false;
        }
        return true;
      }));
  SW_RETURN_IF_ERROR(scan_err);
  keys_persisted_ = keys.size();
  return Status::ok();
}

std::string Checkpointer::encode_meta(const EventClock& clock, const OutputSeqs& seqs,
                                      const TaskCounters& counters) {
  std::string out;
  ByteWriter w(out);
  w.put<uint8_t>(kMetaVersion);
  clock.encode(w);
  w.put<uint32_t>(static_cast<uint32_t>(seqs.size()));
  for (const auto& [origin, seq] : seqs) {
    w.put(origin);
    w.put(seq);
  }
  // Counters, so accounting covers the whole run across restarts.
  w.put<uint64_t>(counters.read.load());
  for (const auto* arr : {&counters.applied, &counters.duplicates, &counters.late}) {
    for (const auto& c : *arr) w.put<uint64_t>(c.load());
  }
  w.put<uint8_t>(static_cast<uint8_t>(counters.dead_lettered.size()));
  for (const auto& c : counters.dead_lettered) w.put<uint64_t>(c.load());
  for (const auto& c : counters.outputs) w.put<uint64_t>(c.load());
  w.put<uint64_t>(counters.checkpoints.load());
  return out;
}

Status Checkpointer::decode_meta(std::string_view v, EventClock& clock, OutputSeqs& seqs,
                                 TaskCounters& counters) {
  ByteReader r(v);
  uint8_t version;
  uint32_t n;
  auto bad = [] { return Status::corruption("task checkpoint metadata is truncated"); };
  if (!r.get(version) || (version != kMetaVersion && version != 2))
    return Status::corruption("unknown task metadata version");
  SW_RETURN_IF_ERROR(clock.decode(r));
  if (!r.get(n)) return bad();
  seqs.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t origin;
    uint64_t seq;
    if (!r.get(origin) || !r.get(seq)) return bad();
    seqs.emplace_back(origin, seq);
  }
  uint64_t v64;
  if (!r.get(v64)) return bad();
  counters.read.store(v64);
  for (auto* arr : {&counters.applied, &counters.duplicates, &counters.late}) {
    for (auto& c : *arr) {
      if (!r.get(v64)) return bad();
      c.store(v64);
    }
  }
  uint8_t codes = kMetaVersion2DeadLetterCodes;
  if (version >= 3 && !r.get(codes)) return bad();
  if (codes > counters.dead_lettered.size()) {
    return Status::corruption(
        "task checkpoint metadata counts more dead-letter codes than this "
        "build knows (written by a newer shelfwatch)");
  }
  for (size_t i = 0; i < counters.dead_lettered.size(); ++i) {
    uint64_t count = 0;
    if (i < codes && !r.get(count)) return bad();
    counters.dead_lettered[i].store(count);
  }
  for (auto& c : counters.outputs) {
    if (!r.get(v64)) return bad();
    c.store(v64);
  }
  if (!r.get(v64)) return bad();
  counters.checkpoints.store(v64);
  return Status::ok();
}

void Checkpointer::put_meta(StateBatch& batch, std::string meta) {
  batch.put(kTaskNs, "meta", meta);
}

Result<std::optional<std::string>> Checkpointer::read_meta() const {
  return store_.get(kTaskNs, "meta");
}

}  // namespace sw

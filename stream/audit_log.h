#pragma once
// The evidence behind alerts and price triggers, for `shelfwatch explain` (README
// "Operations: audit").
//
// AuditLog keeps, per (store, sku) key, a ring of the source positions of the last
// `inputs_per_key` input records applied to the key (12 bytes each: partition, offset; plus
// 3 bytes of ring head, count and dirty flag: 99 bytes per key at the default 8), and, per emitted
// alert or price trigger, an audit record: the record itself, the emitting operator's describe() of
// the key at that moment, the key's input positions, the watermark and the config version. Audit
// records and the rings of keys touched since the last checkpoint are written into the checkpoint's
// batch (namespaces "audit_rec" and "audit_inputs"), so they commit with the outputs they explain,
// exactly once. Retention: the newest `keep_records` audit records; older ones are removed by the
// checkpoint that exceeds the bound.
//
// AuditedOperator wraps an operator: it notes each keyed event's position
// (OperatorContext::current_record()) and captures each alert/trigger the operator emits,
// forwarding everything else unchanged, so outputs are identical with or without it.
// The first wrapper of a task (owner) snapshots and restores the shared log.
//
// Threading: the task thread only (like operators).

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stream/operator.h"

namespace sw {

struct AuditOptions {
  uint32_t inputs_per_key = 8;    // 0: no input positions
  uint32_t keep_records = 10000;  // 0: no audit records (and no wrappers)
  bool enabled() const { return keep_records > 0; }
};

inline constexpr std::string_view kAuditRecordsNs = "audit_rec";
inline constexpr std::string_view kAuditInputsNs = "audit_inputs";

class AuditLog {
 public:
  explicit AuditLog(AuditOptions options) : options_(options) {}

  //! The record at `r` was applied to `key` (repeats of the last position are ignored: every
  //! operator subscribed to the event reports it).
  void note_input(KeyId key, int32_t partition, int64_t offset);
  //! An alert or trigger was emitted; `state` is the operator's describe() of the key.
  void capture(const OutputRecord& record, std::string_view op, std::string_view state, KeyId key,
               int64_t watermark_ms);
  //! Writes pending audit records, retention removals and dirty rings into `batch`.
  void snapshot(StateBatch& batch);
  [[nodiscard]] Status restore(const StateStore& store);
  //! Bytes held in memory (rings and the retention index).
  size_t memory_bytes() const;

  //! Decodes a ring value: (partition, offset) pairs, oldest first.
  static std::vector<std::pair<int32_t, int64_t>> decode_inputs(std::string_view value);
  //! The key of an audit record: id, 0x1f, big-endian sequence number.
  static std::string record_key(std::string_view id, uint64_t seq);

 private:
  struct Position {
    uint32_t partition;
    uint32_t offset_lo, offset_hi;
  };
  std::string encode_ring(KeyId key) const;
  void grow(KeyId key);

  AuditOptions options_;
  std::vector<Position> positions_;  // inputs_per_key per key
  std::vector<uint8_t> head_;        // next slot per key
  std::vector<uint8_t> count_;       // filled slots per key
  std::vector<uint8_t> dirty_flag_;
  std::vector<KeyId> dirty_;
  std::vector<std::pair<std::string, std::string>> pending_;  // audit records to write
  std::deque<std::string> kept_;                              // record keys, oldest first
  size_t kept_bytes_ = 0;
  uint64_t next_seq_ = 0;
};

class AuditedOperator final : public Operator, private OperatorContext {
 public:
  //! `owner`: this wrapper snapshots and restores `log` (exactly one per task).
  AuditedOperator(Operator& inner, AuditLog& log, bool owner)
      : inner_(inner), log_(log), owner_(owner) {}

  std::string_view name() const override { return inner_.name(); }
  uint32_t subscriptions() const override { return inner_.subscriptions(); }
  void on_event(const Event& event, KeyId key, OperatorContext& ctx) override;
  void prefetch(KeyId key) const override { inner_.prefetch(key); }
  void prefetch_related(KeyId key, const KeyIndex& keys) const override {
    inner_.prefetch_related(key, keys);
  }
  void on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) override;
  void on_dead_letter(int64_t stream_time_ms, OperatorContext& ctx) override;
  void on_end_of_input(OperatorContext& ctx) override;
  void snapshot(StateBatch& batch, const KeyIndex& keys) override;
  Status restore(const StateStore& store, OperatorContext& ctx) override;
  size_t memory_bytes() const override;
  std::string describe(KeyId key, const KeyIndex& keys) const override {
    return inner_.describe(key, keys);
  }
  const Probe* probe() const override { return inner_.probe(); }
  void update_probe() override { inner_.update_probe(); }
  Status reconfigure(const Config& config) override { return inner_.reconfigure(config); }

 private:
  // OperatorContext seen by the inner operator: forwards to the task's, captures emits.
  void emit(OutputRecord&& record) override;
  void set_timer(KeyId key, int64_t time_ms, uint32_t tag) override {
    ctx_->set_timer(key, time_ms, tag);
  }
  int64_t watermark() const override { return ctx_->watermark(); }
  const KeyIndex& keys() const override { return ctx_->keys(); }
  const Calendar& calendar() const override { return ctx_->calendar(); }
  const OperatorViews& views() const override { return ctx_->views(); }
  const RawRecord* current_record() const override { return ctx_->current_record(); }

  Operator& inner_;
  AuditLog& log_;
  const bool owner_;
  OperatorContext* ctx_ = nullptr;  // the task's, during a call
};

//! Wraps every operator of `ops` (in place) with AuditedOperator around a shared log; the
//! wrappers and the log are appended to `owned` / returned.
struct AuditedOperators {
  std::unique_ptr<AuditLog> log;
  std::vector<std::unique_ptr<AuditedOperator>> wrappers;
};
AuditedOperators wrap_for_audit(std::vector<Operator*>& ops, AuditOptions options);

}  // namespace sw

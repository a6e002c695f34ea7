#include "stream/audit_log.h"

#include <algorithm>

#include "stream/bytes.h"
#include "stream/json_writer.h"
#include "stream/source.h"

namespace sw {

void AuditLog::grow(KeyId key) {
  const size_t n = static_cast<size_t>(key) + 1;
  if (head_.size() >= n) return;
  const size_t cap = std::max(n, head_.size() * 2);
  head_.resize(cap, 0);
  count_.resize(cap, 0);
  dirty_flag_.resize(cap, 0);
  positions_.resize(cap * options_.inputs_per_key, Position{0, 0, 0});
}

void AuditLog::note_input(KeyId key, int32_t partition, int64_t offset) {
  if (options_.inputs_per_key == 0 || key == kNoKey) return;
  grow(key);
  const size_t n = options_.inputs_per_key;
  Position* ring = &positions_[static_cast<size_t>(key) * n];
  const Position p{static_cast<uint32_t>(partition), static_cast<uint32_t>(offset),
                   static_cast<uint32_t>(static_cast<uint64_t>(offset) >> 32)};
  if (count_[key] > 0) {
    const Position& last = ring[(head_[key] + n - 1) % n];
    if (last.partition == p.partition && last.offset_lo == p.offset_lo &&
        last.offset_hi == p.offset_hi) {
      return;
    }
  }
  ring[head_[key]] = p;
  head_[key] = static_cast<uint8_t>((head_[key] + 1) % n);
  if (count_[key] < n) ++count_[key];
  if (!dirty_flag_[key]) {
    dirty_flag_[key] = 1;
    dirty_.push_back(key);
  }
}

std::string AuditLog::encode_ring(KeyId key) const {
  std::string out;
  if (key >= head_.size()) return out;
  ByteWriter w(out);
  const size_t n = options_.inputs_per_key;
  const Position* ring = &positions_[static_cast<size_t>(key) * n];
  const size_t count = count_[key];
  for (size_t i = 0; i < count; ++i) {
    const Position& p = ring[(head_[key] + n - count + i) % n];
    w.put<int32_t>(static_cast<int32_t>(p.partition));
    w.put<int64_t>(static_cast<int64_t>((static_cast<uint64_t>(p.offset_hi) << 32) | p.offset_lo));
  }
  return out;
}

std::vector<std::pair<int32_t, int64_t>> AuditLog::decode_inputs(std::string_view value) {
  std::vector<std::pair<int32_t, int64_t>> out;
  ByteReader r(value);
  int32_t partition;
  int64_t offset;
  while (r.get(partition) && r.get(offset)) out.emplace_back(partition, offset);
  return out;
}

std::string AuditLog::record_key(std::string_view id, uint64_t seq) {
  std::string k(id);
  k.push_back('\x1f');
  k += be64_key(seq);
  return k;
}

void AuditLog::capture(const OutputRecord& record, std::string_view op, std::string_view state,
                       KeyId key, int64_t watermark_ms) {
  std::string v;
  JsonWriter w(v);
  w.begin_object()
      .field("id", record.id)
      .field("operator", op)
      .field("stream", output_stream_name(record.stream))
      .field("key", record.key);
  w.key("watermark");
  if (watermark_ms == INT64_MIN) {
    w.null();
  } else if (watermark_ms == INT64_MAX) {
    w.value("end-of-input");
  } else {
    w.time_value(watermark_ms);
  }
  w.key("record").raw(record.json);
  w.key("state").raw(state.empty() ? std::string_view("{}") : state);
  w.key("inputs").begin_array();
  if (key != kNoKey) {
    for (const auto& [partition, offset] : decode_inputs(encode_ring(key))) {
      w.begin_object().field("partition", static_cast<int64_t>(partition)).field("offset", offset);
      w.end_object();
    }
  }
  w.end_array().end_object();
  pending_.emplace_back(record_key(record.id, next_seq_++), std::move(v));
}

void AuditLog::snapshot(StateBatch& batch) {
  for (auto& [k, v] : pending_) {
    batch.put(kAuditRecordsNs, k, v);
    kept_bytes_ += k.size();
    kept_.push_back(std::move(k));
  }
  pending_.clear();
  while (kept_.size() > options_.keep_records) {
    batch.remove(kAuditRecordsNs, kept_.front());
    kept_bytes_ -= kept_.front().size();
    kept_.pop_front();
  }
  for (KeyId key : dirty_) {
    batch.put(kAuditInputsNs, be32_key(key), encode_ring(key));
    dirty_flag_[key] = 0;
  }
  dirty_.clear();
}

Status AuditLog::restore(const StateStore& store) {
  std::vector<std::pair<uint64_t, std::string>> keys;
  SW_RETURN_IF_ERROR(
      store.scan_prefix(kAuditRecordsNs, "", [&](std::string_view k, std::string_view) {
        if (k.size() >= 9) keys.emplace_back(from_be64(k.substr(k.size() - 8)), std::string(k));
        return true;
      }));
  std::sort(keys.begin(), keys.end());
  kept_.clear();
  kept_bytes_ = 0;
  for (auto& [seq, k] : keys) {
    kept_bytes_ += k.size();
    kept_.push_back(std::move(k));
    next_seq_ = seq + 1;
  }
  if (options_.inputs_per_key == 0) return Status::ok();
  return store.scan_prefix(kAuditInputsNs, "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 4) return true;
    const KeyId key = from_be32(k);
    for (const auto& [partition, offset] : decode_inputs(v)) note_input(key, partition, offset);
    return true;
  });
}

size_t AuditLog::memory_bytes() const {
  return positions_.capacity() * sizeof(Position) + head_.capacity() + count_.capacity() +
         dirty_flag_.capacity() + dirty_.capacity() * sizeof(KeyId) + kept_bytes_ +
         kept_.size() * sizeof(std::string);
}

// ---------------------------------------------------------------------------------------

void AuditedOperator::on_event(const Event& event, KeyId key, OperatorContext& ctx) {
  if (const RawRecord* r = ctx.current_record(); r != nullptr && key != kNoKey) {
    log_.note_input(key, r->partition, r->offset);
  }
  ctx_ = &ctx;
  inner_.on_event(event, key, *this);
}

void AuditedOperator::on_timer(KeyId key, int64_t time_ms, uint32_t tag, OperatorContext& ctx) {
  ctx_ = &ctx;
  inner_.on_timer(key, time_ms, tag, *this);
}

void AuditedOperator::on_dead_letter(int64_t stream_time_ms, OperatorContext& ctx) {
  ctx_ = &ctx;
  inner_.on_dead_letter(stream_time_ms, *this);
}

void AuditedOperator::on_end_of_input(OperatorContext& ctx) {
  ctx_ = &ctx;
  inner_.on_end_of_input(*this);
}

void AuditedOperator::snapshot(StateBatch& batch, const KeyIndex& keys) {
  inner_.snapshot(batch, keys);
  if (owner_) log_.snapshot(batch);
}

Status AuditedOperator::restore(const StateStore& store, OperatorContext& ctx) {
  ctx_ = &ctx;
  SW_RETURN_IF_ERROR(inner_.restore(store, *this));
  return owner_ ? log_.restore(store) : Status::ok();
}

size_t AuditedOperator::memory_bytes() const {
  return inner_.memory_bytes() + (owner_ ? log_.memory_bytes() : 0);
}

void AuditedOperator::emit(OutputRecord&& record) {
  if (record.stream == OutputStream::kAlerts || record.stream == OutputStream::kPriceTriggers) {
    KeyId key = kNoKey;
    const size_t bar = record.key.find('|');
    const KeyIndex& index = ctx_->keys();
    if (bar != std::string::npos) {
      key = index.find(std::string_view(record.key).substr(0, bar),
                       std::string_view(record.key).substr(bar + 1));
    }
    log_.capture(record, inner_.name(), key != kNoKey ? inner_.describe(key, index) : "{}", key,
                 ctx_->watermark());
  }
  ctx_->emit(std::move(record));
}

AuditedOperators wrap_for_audit(std::vector<Operator*>& ops, AuditOptions options) {
  AuditedOperators out;
  if (!options.enabled() || ops.empty()) return out;
  out.log = std::make_unique<AuditLog>(options);
  for (size_t i = 0; i < ops.size(); ++i) {
    out.wrappers.push_back(std::make_unique<AuditedOperator>(*ops[i], *out.log, i == 0));
    ops[i] = out.wrappers.back().get();
  }
  return out;
}

}  // namespace sw

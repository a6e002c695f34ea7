#pragma once
// State store seam (STYLE.md §5): byte keys in namespaces, atomic batches. The in-memory
// hot state lives in operators; this store holds checkpoints. Implementations: the RocksDB
// store (state/rocksdb_store.h) and an in-memory store for tests (state/memory_store.h).

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace sw {

//! A set of writes applied atomically by StateStore::commit(). Keys and values are copied
//! into 2 MiB chunks that clear() keeps for the next batch, so a checkpoint of a million
//! dirty keys costs no per-key allocation, and a batch that grows never copies what it
//! already holds (a single growing buffer re-copied and re-faulted tens of MB per
//! checkpoint on the task thread).
class StateBatch {
 public:
  enum class OpKind : uint8_t { kPut, kRemove, kRemovePrefix };
  struct OpView {
    OpKind kind;
    std::string_view ns, key, value;
  };

  StateBatch() = default;
  StateBatch(const StateBatch&) = delete;
  StateBatch& operator=(const StateBatch&) = delete;
  StateBatch(StateBatch&&) = default;
  StateBatch& operator=(StateBatch&&) = default;

  void put(std::string_view ns, std::string_view key, std::string_view value) {
    add(OpKind::kPut, ns, key, value);
  }
  void remove(std::string_view ns, std::string_view key) { add(OpKind::kRemove, ns, key, {}); }
  //! Removes every key of the namespace; operations apply in batch order, so puts after
  //! it in the same batch survive.
  void remove_prefix(std::string_view ns) { add(OpKind::kRemovePrefix, ns, {}, {}); }

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  //! Bytes of namespaces, keys and values held.
  size_t bytes() const { return bytes_; }
  OpView op(size_t i) const {
    const Op& o = ops_[i];
    return {o.kind,
            {o.data, o.ns_len},
            {o.data + o.ns_len, o.key_len},
            {o.data + o.ns_len + o.key_len, o.value_len}};
  }
  void clear() {
    ops_.clear();
    large_.clear();
    chunk_ = 0;
    used_ = 0;
    bytes_ = 0;
  }

 private:
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  struct Op {
    OpKind kind;
    uint32_t ns_len, key_len, value_len;
    const char* data;  // ns, key and value, contiguous
  };
  void add(OpKind kind, std::string_view ns, std::string_view key, std::string_view value) {
    const size_t need = ns.size() + key.size() + value.size();
    char* at;
    if (need > kChunkBytes / 4) {
      large_.push_back(
          std::make_unique_for_overwrite<char[]>(need));  // rare: a huge value of its own
      at = large_.back().get();
    } else {
      if (chunks_.empty() || used_ + need > kChunkBytes) {
        if (!chunks_.empty()) ++chunk_;
        if (chunk_ == chunks_.size()) {
          chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunkBytes));
        }
        used_ = 0;
      }
      at = chunks_[chunk_].get() + used_;
      used_ += need;
    }
    for (std::string_view part : {ns, key, value}) {
      if (part.empty()) continue;  // an empty view may hold a null pointer
      std::memcpy(at, part.data(), part.size());
      at += part.size();
    }
    at -= need;
    bytes_ += need;
    ops_.push_back(Op{kind, static_cast<uint32_t>(ns.size()), static_cast<uint32_t>(key.size()),
                      static_cast<uint32_t>(value.size()), at});
  }
  std::vector<Op> ops_;
  std::vector<std::unique_ptr<char[]>> chunks_;  // kept across clear()
  std::vector<std::unique_ptr<char[]>> large_;   // freed by clear()
  size_t chunk_ = 0;                             // chunk being filled
  size_t used_ = 0;                              // bytes used in it
  size_t bytes_ = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Result<std::optional<std::string>> get(std::string_view ns,
                                                 std::string_view key) const = 0;
  //! Visits keys of `ns` starting with `prefix` in byte order; stop by returning false.
  virtual Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
  //! Applies the batch atomically and durably (synced WAL).
  virtual Status commit(const StateBatch& batch) = 0;
  //! Visits every entry of every namespace (namespace order, then key byte order); stop by
  //! returning false. The changelog (connectors/kafka_changelog.h) republishes a store with
  //! it. A store that cannot list its namespaces says so.
  virtual Status scan_all(
      const std::function<bool(std::string_view ns, std::string_view key, std::string_view value)>&
      /*fn*/) const {
    return Status::invalid("this state store cannot list its entries");
  }
};

}  // namespace sw

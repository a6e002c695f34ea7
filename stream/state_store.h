#pragma once
// State store seam (STYLE.md §5): byte keys in namespaces, atomic batches. The in-memory
// hot state lives in operators; this store holds checkpoints. Implementations: the RocksDB
// store (state/rocksdb_store.h) and an in-memory store for tests (state/memory_store.h).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace sw {

//! A set of writes applied atomically by StateStore::commit(). Keys and values are copied
//! into one arena, so a checkpoint of a million dirty keys costs no per-key allocation.
class StateBatch {
 public:
  enum class OpKind : uint8_t { kPut, kRemove, kRemovePrefix };
  struct OpView {
    OpKind kind;
    std::string_view ns, key, value;
  };

  void put(std::string_view ns, std::string_view key, std::string_view value) {
    add(OpKind::kPut, ns, key, value);
  }
  void remove(std::string_view ns, std::string_view key) { add(OpKind::kRemove, ns, key, {}); }
  //! Removes every key of the namespace; operations apply in batch order, so puts after
  //! it in the same batch survive.
  void remove_prefix(std::string_view ns) { add(OpKind::kRemovePrefix, ns, {}, {}); }

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  size_t bytes() const { return arena_.size(); }
  OpView op(size_t i) const {
    const Op& o = ops_[i];
    const char* base = arena_.data();
    return {o.kind,
            {base + o.ns_off, o.ns_len},
            {base + o.key_off, o.key_len},
            {base + o.value_off, o.value_len}};
  }
  void clear() {
    ops_.clear();
    arena_.clear();
  }

 private:
  struct Op {
    OpKind kind;
    uint32_t ns_len, key_len, value_len;
    size_t ns_off, key_off, value_off;
  };
  void add(OpKind kind, std::string_view ns, std::string_view key, std::string_view value) {
    Op o{kind,
         static_cast<uint32_t>(ns.size()),
         static_cast<uint32_t>(key.size()),
         static_cast<uint32_t>(value.size()),
         arena_.size(),
         0,
         0};
    arena_.append(ns);
    o.key_off = arena_.size();
    arena_.append(key);
    o.value_off = arena_.size();
    arena_.append(value);
    ops_.push_back(o);
  }
  std::vector<Op> ops_;
  std::string arena_;
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
};

}  // namespace sw

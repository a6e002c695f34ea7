#include "state/memory_store.h"

namespace sw {

std::string physical_key(std::string_view ns, std::string_view key) {
  std::string k;
  k.reserve(ns.size() + 1 + key.size());
  k.append(ns);
  k.push_back('\0');
  k.append(key);
  return k;
}

Result<std::optional<std::string>> MemoryStateStore::get(std::string_view ns,
                                                         std::string_view key) const {
  auto it = data_.find(physical_key(ns, key));
  if (it == data_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStateStore::scan_all(
    const std::function<bool(std::string_view, std::string_view, std::string_view)>& fn) const {
  for (const auto& [k, v] : data_) {
    std::string_view pk(k);
    size_t sep = pk.find('\0');
    if (!fn(pk.substr(0, sep), pk.substr(sep + 1), v)) break;
  }
  return Status::ok();
}

Status MemoryStateStore::scan_prefix(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::string start = physical_key(ns, prefix);
  size_t ns_len = ns.size() + 1;
  for (auto it = data_.lower_bound(start);
       it != data_.end() && it->first.compare(0, start.size(), start) == 0; ++it) {
    if (!fn(std::string_view(it->first).substr(ns_len), it->second)) break;
  }
  return Status::ok();
}

Status MemoryStateStore::commit(const StateBatch& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    StateBatch::OpView op = batch.op(i);
    switch (op.kind) {
      case StateBatch::OpKind::kPut:
        data_[physical_key(op.ns, op.key)] = std::string(op.value);
        break;
      case StateBatch::OpKind::kRemove:
        data_.erase(physical_key(op.ns, op.key));
        break;
      case StateBatch::OpKind::kRemovePrefix: {
        std::string start = physical_key(op.ns, "");
        auto it = data_.lower_bound(start);
        while (it != data_.end() && it->first.compare(0, start.size(), start) == 0) {
          it = data_.erase(it);
        }
        break;
      }
    }
  }
  return Status::ok();
}

}  // namespace sw

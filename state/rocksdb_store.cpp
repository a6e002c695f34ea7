#include "state/rocksdb_store.h"

#include <cstring>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "state/memory_store.h"
#include "stream/huge_pages.h"

namespace sw {

namespace {
Status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::ok();
  if (s.IsIOError()) return Status::io(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::corruption(what + ": " + s.ToString());
  return Status::internal(what + ": " + s.ToString());
}
}  // namespace

Result<std::unique_ptr<RocksDbStateStore>> RocksDbStateStore::open(const RocksDbOptions& o) {
  std::unique_ptr<RocksDbStateStore> store(new RocksDbStateStore());
  store->sync_ = o.sync;
  store->cache_ = rocksdb::NewLRUCache(o.memory_budget_bytes);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 256;
  // Checkpoints are large sorted-on-flush bulk writes and reads happen only at restore, so
  // an append-only vector memtable beats the skiplist; values are small binary structs that
  // compress poorly, so skip snappy on the hot levels.
  options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  options.allow_concurrent_memtable_write = false;
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kLZ4Compression;
  options.write_buffer_size = std::max<size_t>(o.memory_budget_bytes / 8, 4u << 20);
  options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(o.memory_budget_bytes / 2, store->cache_);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = store->cache_;
  table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (!o.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(o.path, ec);
    if (ec) return Status::io("cannot create state directory '" + o.path + "': " + ec.message());
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = o.read_only ? rocksdb::DB::OpenForReadOnly(options, o.path, &db)
                                  : rocksdb::DB::Open(options, o.path, &db);
  if (!s.ok()) return from_rocks(s, "opening state store at '" + o.path + "'");
  store->db_.reset(db);
  return store;
}

RocksDbStateStore::~RocksDbStateStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

Result<std::optional<std::string>> RocksDbStateStore::get(std::string_view ns,
                                                          std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), physical_key(ns, key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocks(s, "reading state");
  return std::optional<std::string>(std::move(value));
}

Status RocksDbStateStore::scan_prefix(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::string start = physical_key(ns, prefix);
  size_t ns_len = ns.size() + 1;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(start); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() < start.size() || std::memcmp(k.data(), start.data(), start.size()) != 0) break;
    if (!fn(std::string_view(k.data() + ns_len, k.size() - ns_len),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return from_rocks(it->status(), "scanning state");
}

Status RocksDbStateStore::commit(const StateBatch& batch) {
  rocksdb::WriteBatch wb(batch.bytes() + batch.size() * 16);
  // A checkpoint batch is tens of MB of fresh memory: fault it in 2 MiB pages, not 4 KiB.
  huge_pages::advise(wb.Data().data(), wb.Data().capacity());
  std::string k;
  for (size_t i = 0; i < batch.size(); ++i) {
    StateBatch::OpView op = batch.op(i);
    k.assign(op.ns);
    k.push_back('\0');
    switch (op.kind) {
      case StateBatch::OpKind::kPut:
        k.append(op.key);
        SW_RETURN_IF_ERROR(from_rocks(wb.Put(k, rocksdb::Slice(op.value.data(), op.value.size())),
                                      "batching put"));
        break;
      case StateBatch::OpKind::kRemove:
        k.append(op.key);
        SW_RETURN_IF_ERROR(from_rocks(wb.Delete(k), "batching delete"));
        break;
      case StateBatch::OpKind::kRemovePrefix: {
        std::string end(op.ns);
        end.push_back('\x01');
        SW_RETURN_IF_ERROR(from_rocks(wb.DeleteRange(k, end), "batching range delete"));
        break;
      }
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  return from_rocks(db_->Write(wo, &wb), "committing checkpoint");
}

uint64_t RocksDbStateStore::disk_bytes() const {
  uint64_t v = 0;
  db_->GetIntProperty("rocksdb.total-sst-files-size", &v);
  return v;
}

}  // namespace sw

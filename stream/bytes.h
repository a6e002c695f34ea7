#pragma once
// Little-endian binary encoding for checkpoint values. ByteReader is bounds-checked: every
// read returns false on truncated input, so corrupt checkpoints are reported, never UB.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace sw {

// Values are copied in host order, which is therefore the little-endian record format.
static_assert(std::endian::native == std::endian::little, "records are little-endian");

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(std::string_view s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <typename T>
  [[nodiscard]] bool get(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (in_.size() < sizeof v) return false;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return true;
  }
  [[nodiscard]] bool get_string(std::string& s) {
    uint32_t n;
    if (!get(n) || in_.size() < n) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  //! The next `n` bytes, as a view into the input.
  [[nodiscard]] bool get_bytes(size_t n, std::string_view& out) {
    if (in_.size() < n) return false;
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  //! A string with a u16 length prefix: the layout of records written before they moved to
  //! ByteWriter (low_stock flow and item records, docs/low_stock.md). Read-only on purpose:
  //! new records use put_string's u32 prefix.
  [[nodiscard]] bool get_string16(std::string& s) {
    uint16_t n;
    std::string_view bytes;
    if (!get(n) || !get_bytes(n, bytes)) return false;
    s.assign(bytes);
    return true;
  }
  bool empty() const { return in_.empty(); }
  //! Bytes not read yet (a record read from the middle of a block: consumed = size - remaining).
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

//! ByteWriter::put's encoding into a caller-sized buffer, for hot paths that fill a fixed
//! stack block record by record (low_stock state blocks). The caller guarantees room.
class BufferWriter {
 public:
  explicit BufferWriter(char* out) : out_(out) {}
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memcpy(out_ + n_, &v, sizeof v);
    n_ += sizeof v;
  }
  //! Bytes written so far.
  size_t size() const { return n_; }

 private:
  char* out_;
  size_t n_ = 0;
};

//! 4-byte big-endian key, so RocksDB iterates KeyIds in numeric order.
inline std::string be32_key(uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  return std::string(b, 4);
}
inline uint32_t from_be32(std::string_view k) {
  if (k.size() < 4) return 0;
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(k[i])); };
  return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
}
inline uint64_t from_be64(std::string_view k) {
  uint64_t v = 0;
  for (size_t i = 0; i < k.size() && i < 8; ++i) v = v << 8 | static_cast<unsigned char>(k[i]);
  return v;
}
inline std::string be64_key(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

}  // namespace sw

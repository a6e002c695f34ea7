// Fuzzes the event decoder: any byte string must decode or be classified with a code and a
// detail, never crash, hang or read out of bounds. Exercises both the padded in-place path
// and the copying path.

#include <cstdint>
#include <cstring>
#include <string>

#include "stream/decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sw::Decoder decoder(4096);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sw::Event e;
  sw::DecodeError err = decoder.decode(in, 0, e);
  if (err != sw::DecodeError::kNone && decoder.detail().empty()) __builtin_trap();
  if (err == sw::DecodeError::kNone && e.ts_ms < 0) __builtin_trap();
  std::string padded(in);
  padded.append(64, ' ');
  sw::DecodeError err2 = decoder.decode(std::string_view(padded.data(), size), 64, e);
  if (err2 != err) __builtin_trap();  // both paths must agree
  int64_t ms;
  (void)sw::parse_rfc3339(in, ms);
  return 0;
}

#include "stream/json_writer.h"

#include <charconv>
#include <cmath>

#include "stream/civil_time.h"
#include "stream/output_stamp.h"

namespace sw {

namespace {
// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xc0) == 0x80; };
  unsigned char c = byte(i);
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xe0 && c1 < 0xa0) return 0;  // overlong
    if (c == 0xed && c1 > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xf0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xf4 && c1 > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}
}  // namespace

void json_escape(std::string& out, std::string_view s) {
  static const char* const kHex = "0123456789abcdef";
  // Append runs of characters that need no escaping in one go. Well-formed UTF-8 is copied
  // as is; a byte that does not start a well-formed sequence is written as \u00XX (its
  // Latin-1 value), so the output is valid JSON whatever the input bytes (docs/contract.md).
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      size_t n = utf8_sequence(s, i);
      if (n > 0) {
        i += n - 1;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[(c >> 4) & 0xf];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void JsonWriter::comma() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  comma();
  out_ += '{';
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  comma();
  out_ += '[';
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
  comma();
  out_ += '"';
  json_escape(out_, k);
  out_ += "\":";
  need_comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::value(std::string_view v) {
  comma();
  out_ += '"';
  json_escape(out_, v);
  out_ += '"';
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  comma();
  append_json_number(out_, v);
  return *this;
}
JsonWriter& JsonWriter::value(int64_t v) {
  comma();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}
JsonWriter& JsonWriter::value(uint64_t v) {
  comma();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  comma();
  out_ += v ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::null() {
  comma();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::stamp() {
  comma();
  out_ += output_stamp();
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  comma();
  out_ += json;
  return *this;
}
JsonWriter& JsonWriter::time_value(int64_t epoch_ms) {
  comma();
  out_ += '"';
  append_rfc3339(out_, epoch_ms);  // digits, '-', ':', 'T', '.', 'Z': nothing to escape
  out_ += '"';
  return *this;
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) v = 0;  // no "-0"
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

namespace {
char* put_2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}
}  // namespace

// Hand-rolled rather than gmtime_r + strftime: forecasts render a timestamp per horizon step
// (28 per record), and this is several times faster. Renders what "%Y-%m-%dT%H:%M:%S" of
// gmtime_r rendered, for every year (the year unpadded, as %Y prints it).
void append_rfc3339(std::string& out, int64_t epoch_ms) {
  const int64_t days = civil::day_of_ms(epoch_ms);
  const int64_t rem = epoch_ms - days * civil::kMsPerDay;  // 0 .. kMsPerDay - 1
  const civil::Date d = civil::civil_from_days(days);
  char buf[48];
  char* p = std::to_chars(buf, buf + 24, d.year).ptr;
  *p++ = '-';
  p = put_2(p, d.month);
  *p++ = '-';
  p = put_2(p, d.day);
  *p++ = 'T';
  const int secs = static_cast<int>(rem / 1000);
  p = put_2(p, secs / 3600);
  *p++ = ':';
  p = put_2(p, secs / 60 % 60);
  *p++ = ':';
  p = put_2(p, secs % 60);
  const int frac = static_cast<int>(rem % 1000);
  if (frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    p = put_2(p, frac % 100);
  }
  *p++ = 'Z';
  out.append(buf, p);
}

std::string format_time(int64_t epoch_ms) {
  std::string out;
  append_rfc3339(out, epoch_ms);
  return out;
}

double round_to(double v, int digits) {
  if (!std::isfinite(v)) return v;
  double p = std::pow(10.0, digits);
  return std::round(v * p) / p;
}

}  // namespace sw

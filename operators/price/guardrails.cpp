#include "operators/price/guardrails.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sw::price {

namespace {

constexpr double kTol = 1e-9;

bool set(double v) {
  return std::isfinite(v) && v > 0;
}

std::string money(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string names(uint32_t bits) {
  std::string out;
  for (uint32_t i = 0; i < kGuardrailCount; ++i) {
    if (bits & (1u << i)) {
      if (!out.empty()) out += '+';
      out += guardrail_name(1u << i);
    }
  }
  return out;
}

}  // namespace

std::string_view guardrail_name(uint32_t bit) {
  switch (bit) {
    case kMinMargin:
      return "min_margin";
    case kMap:
      return "map";
    case kMinPrice:
      return "min_price";
    case kMaxPrice:
      return "max_price";
    case kMaxStep:
      return "max_step";
    case kPriceEnding:
      return "price_ending";
    default:
      return "?";
  }
}

std::string ending_name(const Limits& l) {
  if (l.ending_cents < 0) return "none";
  if (l.ending_modulus == 10) return ".x" + std::to_string(l.ending_cents % 10);
  return "." + std::to_string(100 + l.ending_cents % 100).substr(1);
}

Window window(const Limits& l) {
  Window w;
  // Hard floor and ceiling first: they conflict independently of the current price.
  double floor = 0;
  uint32_t floor_by = 0;
  auto raise = [&](double v, uint32_t bit) {
    if (!set(v)) return;
    if (v > floor + kTol) {
      floor = v;
      floor_by = bit;
    } else if (std::fabs(v - floor) <= kTol) {
      floor_by |= bit;
    }
  };
  if (std::isfinite(l.cost) && l.cost > 0)
    raise(l.cost * (1 + std::max(0.0, l.min_margin)), kMinMargin);
  raise(l.map_price, kMap);
  raise(l.min_price, kMinPrice);
  double ceil = INFINITY;
  uint32_t ceil_by = 0;
  if (set(l.max_price)) {
    ceil = l.max_price;
    ceil_by = kMaxPrice;
  }
  if (floor > ceil + kTol) {
    w.conflict = names(floor_by) + " " + money(floor) + " above max_price " + money(ceil);
    return w;
  }
  w.lo = floor;
  w.lo_by = floor_by;
  w.hi = ceil;
  w.hi_by = ceil_by;
  if (l.max_step > 0 && set(l.current_price)) {
    const double down = l.current_price * (1 - l.max_step);
    const double up = l.current_price * (1 + l.max_step);
    if (up < w.lo - kTol) {
      w.conflict = names(w.lo_by) + " " + money(w.lo) + " more than max_step above current price " +
                   money(l.current_price);
      return w;
    }
    if (down > w.hi + kTol) {
      w.conflict = "max_price " + money(w.hi) + " more than max_step below current price " +
                   money(l.current_price);
      return w;
    }
    if (down > w.lo + kTol) {
      w.lo = down;
      w.lo_by = kMaxStep;
    } else if (std::fabs(down - w.lo) <= kTol) {
      w.lo_by |= kMaxStep;
    }
    if (up < w.hi - kTol) {
      w.hi = up;
      w.hi_by = kMaxStep;
    } else if (std::fabs(up - w.hi) <= kTol) {
      w.hi_by |= kMaxStep;
    }
  }
  return w;
}

Proposal propose(double target, const Limits& l) {
  Proposal p;
  p.target = target;
  Window w = window(l);
  if (!w.conflict.empty()) {
    p.conflict = std::move(w.conflict);
    return p;
  }
  // Whole cents inside the window.
  const int64_t lo_c = static_cast<int64_t>(std::ceil(w.lo * 100 - kTol));
  const int64_t hi_c =
      std::isfinite(w.hi) ? static_cast<int64_t>(std::floor(w.hi * 100 + kTol)) : INT64_MAX / 4;
  const int64_t lo_ok = std::max<int64_t>(lo_c, 1);
  if (lo_ok > hi_c) {
    p.conflict = "no whole-cent price between " + money(w.lo) + " and " + money(w.hi);
    return p;
  }
  double t = target;
  if (std::isnan(t)) t = l.current_price;
  if (t > 0 && std::isinf(t) && !std::isfinite(w.hi)) {
    p.conflict = "unbounded target: no max_price or max_step limits the raise";
    return p;
  }
  if (t < w.lo - kTol) {
    p.bound_by |= w.lo_by;
  } else if (t > w.hi + kTol) {
    p.bound_by |= w.hi_by;
  }
  const double tc = std::clamp(t * 100, static_cast<double>(lo_ok), static_cast<double>(hi_c));
  int64_t c;
  if (l.ending_cents < 0) {
    c = std::clamp<int64_t>(std::llround(tc), lo_ok, hi_c);
  } else {
    const int64_t m = l.ending_modulus == 10 ? 10 : 100;
    const int64_t e = l.ending_cents % m;
    const int64_t first = lo_ok + ((e - lo_ok) % m + m) % m;  // first price ≥ lo with ending
    if (first > hi_c) {
      p.conflict = "price_ending " + ending_name(l) + ": none between " + money(w.lo) + " and " +
                   money(w.hi);
      return p;
    }
    c = m * std::llround((tc - static_cast<double>(e)) / static_cast<double>(m)) + e;
    while (c < first) c += m;
    while (c > hi_c) c -= m;
  }
  // Never the opposite way: an ending that only fits on the other side of the current price
  // than the target leaves no admissible move.
  const double cur_c = l.current_price * 100;
  const double want_c = std::clamp(t, w.lo, w.hi) * 100;
  const double got_c = static_cast<double>(c);
  const bool against = (want_c > cur_c + kTol && got_c < cur_c - kTol) ||
                       (want_c < cur_c - kTol && got_c > cur_c + kTol);
  if (l.current_price > 0 && against) {
    p.conflict =
        (l.ending_cents >= 0 ? "price_ending " + ending_name(l) : std::string("whole cents")) +
        ": no such price between the current price " + money(l.current_price) +
        " and the target inside the limits";
    return p;
  }
  p.has_price = true;
  p.price = static_cast<double>(c) / 100;
  return p;
}

bool admissible(double price, const Limits& l) {
  if (!(price > 0) || !std::isfinite(price)) return false;
  if (std::isfinite(l.cost) && l.cost > 0 &&
      price < l.cost * (1 + std::max(0.0, l.min_margin)) - kTol)
    return false;
  if (set(l.map_price) && price < l.map_price - kTol) return false;
  if (set(l.min_price) && price < l.min_price - kTol) return false;
  if (set(l.max_price) && price > l.max_price + kTol) return false;
  if (l.max_step > 0 && set(l.current_price)) {
    if (price < l.current_price * (1 - l.max_step) - kTol) return false;
    if (price > l.current_price * (1 + l.max_step) + kTol) return false;
  }
  const int64_t cents = std::llround(price * 100);
  if (std::fabs(static_cast<double>(cents) / 100 - price) > kTol) return false;
  if (l.ending_cents >= 0) {
    const int64_t m = l.ending_modulus == 10 ? 10 : 100;
    if (cents % m != l.ending_cents % m) return false;
  }
  return true;
}

}  // namespace sw::price

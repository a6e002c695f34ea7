#pragma once
// Randomness of the generator: splitmix64 streams, seeded per (seed, entity, day) so that every
// draw is a function of the options alone and independent of loop order. Poisson and normal
// sampling are implemented here, not taken from <random>, so a seed gives the same stream on
// every standard library. Header-only; an Rng is a value, not shared between threads.

#include <cmath>
#include <cstdint>

namespace sw::sim {

inline constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(mix64(seed + kGolden)) {}
  Rng(uint64_t seed, uint64_t a, uint64_t b)
      : s_(mix64(seed ^ mix64(a * 0xd1b54a32d192ed03ULL + mix64(b + 0x632be59bd9b4e019ULL)))) {}
  uint64_t next() {
    s_ += kGolden;
    return mix64(s_);
  }
  //! Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  //! Uniform integer in [0, n).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool chance(double p) { return uniform() < p; }
  //! Standard normal (Box-Muller, one value per call).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  //! Poisson: multiplication method below 10, Hoermann's PTRS above.
  int64_t poisson(double lam) {
    if (!(lam > 0)) return 0;
    if (lam < 10) {
      double limit = std::exp(-lam);
      double p = uniform();
      int64_t k = 0;
      while (p > limit) {
        ++k;
        p *= uniform();
      }
      return k;
    }
    double slam = std::sqrt(lam);
    double loglam = std::log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      double u = uniform() - 0.5;
      double v = uniform();
      double us = 0.5 - std::fabs(u);
      double kf = std::floor((2 * a / us + b) * u + lam + 0.43);
      if (us >= 0.07 && v <= vr) return static_cast<int64_t>(kf);
      if (kf < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -lam + kf * loglam - std::lgamma(kf + 1)) {
        return static_cast<int64_t>(kf);
      }
    }
  }

 private:
  uint64_t s_;
};

}  // namespace sw::sim

// SPDX-License-Identifier: MIT
// Standard normal draws that are the same bits on every platform: the Gaussian test matrices of
// the low-rank operators (PowerSGD's first Q, randomized SVD's Omega) enter messages.
#pragma once

#include <cmath>
#include <cstdint>

#include <commpress/core/seed.hpp>

namespace commpress {

namespace detail {
/// ln(x) for finite x > 0 from +, -, *, / only, which IEEE 754 rounds exactly: the same bits on
/// every platform, unlike std::log, whose last bit the C library chooses. x = 2^e m with m in
/// [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m-1)/(m+1), |s| <= 0.172; the atanh series
/// to s^23 leaves a relative error below s^24 < 1e-18, so the result is within a few ulp.
inline double portable_log(double x) noexcept {
    int e = 0;
    double m = std::frexp(x, &e);   // exact: m in [1/2, 1)
    if (m < 0x1.6a09e667f3bcdp-1) { // sqrt(1/2)
        m *= 2;
        --e;
    }
    const double s = (m - 1) / (m + 1), z = s * s;
    double series = 1.0 / 23;
    for (int k = 21; k >= 1; k -= 2)
        series = series * z + 1.0 / k;
    return static_cast<double>(e) * 0x1.62e42fefa39efp-1 + 2 * s * series; // e ln 2 + ln m
}

/// Marsaglia's polar method on uniform [-1, 1) draws: (u, v) uniform in the unit disc,
/// s = u^2 + v^2, then u sqrt(-2 ln s / s) and v sqrt(-2 ln s / s) are independent N(0, 1); the
/// second is kept in `spare` for the next call. Only portable_log, sqrt and basic arithmetic,
/// so the draws are platform-independent.
template <class Uniform>
double polar_normal(Uniform uniform, double& spare, bool& has_spare) noexcept {
    if (has_spare) {
        has_spare = false;
        return spare;
    }
    double u = 0, v = 0, s = 0;
    do {
        u = uniform();
        v = uniform();
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double scale = std::sqrt(-2 * portable_log(s) / s);
    spare = v * scale;
    has_spare = true;
    return u * scale;
}
} // namespace detail

/// N(0, 1) draws from a Philox stream (53 random bits per uniform) by the polar method.
class normal_stream {
  public:
    normal_stream(const draw_context& c, purpose p, bool shared) noexcept : rng_(c, p, shared) {}

    double operator()() noexcept {
        return detail::polar_normal([this] { return uniform(); }, spare_, has_spare_);
    }

  private:
    double uniform() noexcept { // [-1, 1)
        const std::uint64_t w = (std::uint64_t{rng_.next()} << 32) | rng_.next();
        return static_cast<double>(w >> 11) * 0x1.0p-52 - 1.0;
    }

    philox rng_;
    double spare_ = 0;
    bool has_spare_ = false;
};

} // namespace commpress

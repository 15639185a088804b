// SPDX-License-Identifier: MIT
// Monte Carlo checks of EF-BV's class C(eta, omega) for sparsifiers with known laws, through a
// real pipeline (shared by comp_k.cpp, mix_k.cpp, perm_k.cpp).
//
// The caller gives, per coordinate i, the exact E C_i(x) (ec), Var C_i(x) (var), and the largest
// (C_i - E C_i)^2 any outcome can give (dev2max), and s >= |C_i| / |x_i| for every outcome.
// Tolerances (N trials with fresh Philox counters; the step advances with every compress):
// - per coordinate, |mean_i - ec_i| <= 6 sqrt(var_i / N) + rounding: outside this band with
//   probability ~2e-9 (CLT, bounded terms, N >= 2000). Rounding: binary32 decoding of s x_i moves
//   each outcome by <= 2^-24 s |x_i| (+ 2^-149 for subnormal results), so the mean by as much.
// - eta: given the per-coordinate bands, ||mean - E C|| <= sqrt(sum band_i^2) (no further chance
//   involved), so |eta_hat - eta_x| <= that / ||x||, eta_x = ||E C(x) - x|| / ||x|| exactly.
// - omega: Z = ||C(x) - E C(x)||^2 / ||x||^2 lies in [0, Zmax], Zmax = sum dev2max / ||x||^2, so
//   Var Z <= E Z^2 <= Zmax E Z = Zmax omega_x and the mean of N trials is within
//   6 sqrt(Zmax omega_x / N) of omega_x = sum var / ||x||^2 (CLT, ~2e-9). Rounding: each outcome
//   moves (C_i - ec_i)^2 by <= (2 |C_i - ec_i| + d_i) d_i with |C_i - ec_i| <= 2 s |x_i| and
//   d_i <= 2^-24 s |x_i|: Z moves by <= 2^-24 s (4 s + 1); double sums add (n + N) 2^-52 Zmax.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

namespace commpress::testing {

struct mc_result {
    double eta_hat = 0, eta_x = 0, eta_tol = 0;       ///< measured, exact for this x, tolerance
    double omega_hat = 0, omega_x = 0, omega_tol = 0; ///< measured, exact for this x, tolerance
};

template <class P>
mc_result run_mc(P& p, const std::vector<float>& x, const std::vector<double>& ec,
                 const std::vector<double>& var, const std::vector<double>& dev2max, double s,
                 std::size_t trials) {
    const std::size_t n = x.size();
    const double N = static_cast<double>(trials);
    std::vector<std::byte> buf(p.max_message_size(n));
    std::vector<float> out(n);
    std::vector<double> sum(n, 0.0);
    double norm2 = 0;
    for (float v : x)
        norm2 += static_cast<double>(v) * v;
    double zsum = 0;
    std::size_t nonzero = 0;
    for (std::size_t t = 0; t < trials; ++t) {
        const std::size_t size = p.compress(std::span<const float>(x), std::span<std::byte>(buf));
        p.decompress(std::span<const std::byte>(buf.data(), size), std::span<float>(out));
        double z = 0;
        for (std::size_t i = 0; i < n; ++i) {
            sum[i] += out[i];
            nonzero += out[i] != 0.0f;
            const double d = out[i] - ec[i];
            z += d * d;
        }
        if (norm2 > 0)
            zsum += z / norm2;
    }
    mc_result r;
    if (norm2 == 0) {
        CHECK(nonzero == 0); // C(0) = 0 exactly
        return r;
    }
    std::size_t bad = 0, first = n;
    double band2 = 0, gap2 = 0, ecx2 = 0, varsum = 0, devsum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double xi = x[i], mean = sum[i] / N;
        const double band = 6 * std::sqrt(var[i] / N) + 0x1p-24 * s * std::abs(xi) + 0x1p-149;
        if (!(std::abs(mean - ec[i]) <= band)) {
            ++bad;
            first = std::min(first, i);
        }
        band2 += band * band;
        gap2 += (mean - xi) * (mean - xi);
        ecx2 += (ec[i] - xi) * (ec[i] - xi);
        varsum += var[i];
        devsum += dev2max[i];
    }
    INFO("first coordinate outside its band: " << first);
    CHECK(bad == 0);
    r.eta_hat = std::sqrt(gap2 / norm2);
    r.eta_x = std::sqrt(ecx2 / norm2);
    r.eta_tol = std::sqrt(band2 / norm2) + 1e-12;
    const double zmax = devsum / norm2;
    r.omega_x = varsum / norm2;
    r.omega_hat = zsum / N;
    r.omega_tol = 6 * std::sqrt(zmax * r.omega_x / N) + 0x1p-24 * s * (4 * s + 1) +
                  static_cast<double>(n + trials) * 0x1p-52 * zmax;
    CAPTURE(r.eta_hat, r.eta_x, r.eta_tol, r.omega_hat, r.omega_x, r.omega_tol);
    CHECK(std::abs(r.eta_hat - r.eta_x) <= r.eta_tol);
    CHECK(std::abs(r.omega_hat - r.omega_x) <= r.omega_tol);
    return r;
}

/// Reference top-k written independently of the library: stable sort by decreasing |x_i|
/// (lowest index wins ties), returned ascending.
inline std::vector<std::uint32_t> reference_top(const std::vector<float>& x, std::size_t k) {
    std::vector<std::uint32_t> order(x.size());
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::abs(x[a]) > std::abs(x[b]);
    });
    order.resize(std::min(k, x.size()));
    std::sort(order.begin(), order.end());
    return order;
}

/// Smallest b with 2^b >= n (0 for n <= 1).
inline unsigned ceil_log2(std::size_t n) {
    unsigned b = 0;
    while ((std::size_t{1} << b) < n)
        ++b;
    return b;
}

/// The (index, value) entries of an identity + bitpack message: per entry a ceil(log2 n)-bit
/// index, then the 32-bit value, LSB first after the 48-byte header.
inline std::vector<std::uint32_t> bitpack_indices(std::span<const std::byte> msg, std::size_t n,
                                                  std::size_t m) {
    const auto payload = msg.subspan(48);
    const unsigned ib = ceil_log2(n);
    std::vector<std::uint32_t> idx(m);
    for (std::size_t j = 0; j < m; ++j) {
        std::uint32_t v = 0;
        for (unsigned b = 0; b < ib; ++b) {
            const std::size_t at = j * (ib + 32) + b;
            v |= ((std::to_integer<unsigned>(payload[at / 8]) >> (at % 8)) & 1u) << b;
        }
        idx[j] = v;
    }
    return idx;
}

inline bool strictly_ascending(const std::vector<std::uint32_t>& v) {
    return std::adjacent_find(v.begin(), v.end(), [](auto a, auto b) { return a >= b; }) == v.end();
}

} // namespace commpress::testing

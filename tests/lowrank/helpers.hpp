// SPDX-License-Identifier: MIT
// What the low-rank tests share: seeded uniform matrices and a problem part whose gradient is
// fixed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <commpress/core/seed.hpp>
#include <commpress/lowrank/orthogonalize.hpp>

namespace commpress::testing {

/// n values uniform in [-1, 1) from splitmix64 (a matrix's entries, row-major).
inline std::vector<float> uniform(std::size_t n, std::uint64_t seed) {
    std::vector<float> a(n);
    for (float& v : a)
        v = static_cast<float>(static_cast<double>(detail::splitmix64(seed++) >> 11) * 0x1p-52 -
                               1.0);
    return a;
}

/// U diag(s) V^T (m x n, row-major) with U (m x k) and V (n x k) orthonormalised from uniform
/// draws under seed_u and seed_v: a matrix of known singular values s (k of them).
inline std::vector<float> with_spectrum(std::size_t m, std::size_t n, const std::vector<double>& s,
                                        std::uint64_t seed_u, std::uint64_t seed_v) {
    const std::size_t k = s.size();
    auto U = uniform(m * k, seed_u), V = uniform(n * k, seed_v);
    lowrank::orthogonalize(lowrank::matrix_view<float>(std::span<float>(U), m, k));
    lowrank::orthogonalize(lowrank::matrix_view<float>(std::span<float>(V), n, k));
    std::vector<float> a(m * n);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double v = 0;
            for (std::size_t l = 0; l < k; ++l)
                v += s[l] * U[i * k + l] * V[j * k + l];
            a[i * n + j] = static_cast<float>(v);
        }
    return a;
}

/// A worker whose f_i(x) = <g, x>: its gradient is g, whatever x.
struct fixed_gradient {
    std::vector<float> g;
    std::size_t dim() const { return g.size(); }
    double loss_and_gradient(std::span<const float>, std::span<float> out) const {
        std::copy(g.begin(), g.end(), out.begin());
        return 0;
    }
};

} // namespace commpress::testing

// SPDX-License-Identifier: MIT
// Uniform k-subsets of [0, n) with Floyd's algorithm: exactly k draws, cost O(k log k), not O(n).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <commpress/core/seed.hpp>

namespace commpress::sparsify::detail {

/// Scratch reused across calls so that sampling allocates nothing after warm-up.
struct sample_workspace {
    std::vector<std::uint32_t> table; // open-addressing set, or a bitmap when n is small
    std::vector<std::uint32_t> idx;
};

/// Writes a uniformly random k-subset of [0, n) in ascending order into w.idx (k <= n < 2^32).
/// Floyd: for j = n-k .. n-1 draw t in [0, j]; insert t, or j if t is already in. Every k-subset
/// is equally likely, and the set depends only on the stream, never on the data structure used.
inline void sample_k(philox& rng, std::size_t n, std::size_t k, sample_workspace& w) noexcept {
    w.idx.resize(k);
    if (k == n) {
        for (std::size_t i = 0; i < n; ++i)
            w.idx[i] = static_cast<std::uint32_t>(i);
        return;
    }
    if (n <= 1024 * k) { // bitmap of n bits: scanning n / 32 words beats sorting k values
        w.table.assign((n + 31) / 32, 0u);
        auto test_set = [&](std::uint32_t v) {
            const std::uint32_t bit = 1u << (v % 32);
            const bool had = (w.table[v / 32] & bit) != 0;
            w.table[v / 32] |= bit;
            return had;
        };
        for (std::size_t j = n - k; j < n; ++j) {
            const auto jj = static_cast<std::uint32_t>(j);
            if (test_set(rng.below(jj + 1)))
                test_set(jj);
        }
        std::size_t out = 0;
        for (std::size_t word = 0; word < w.table.size(); ++word)
            for (std::uint32_t bits = w.table[word]; bits != 0; bits &= bits - 1)
                w.idx[out++] = static_cast<std::uint32_t>(word * 32) +
                               static_cast<std::uint32_t>(std::countr_zero(bits));
        return;
    }
    constexpr std::uint32_t empty = 0xffff'ffffu; // never a value: n < 2^32
    const std::size_t size = std::bit_ceil(2 * k);
    const std::uint32_t mask = static_cast<std::uint32_t>(size - 1);
    w.table.assign(size, empty);
    auto insert = [&](std::uint32_t v) { // returns false if v was already present
        for (std::uint32_t h = (v * 0x9e37'79b1u) & mask;; h = (h + 1) & mask) {
            if (w.table[h] == v)
                return false;
            if (w.table[h] == empty) {
                w.table[h] = v;
                return true;
            }
        }
    };
    std::size_t out = 0;
    for (std::size_t j = n - k; j < n; ++j) {
        const auto jj = static_cast<std::uint32_t>(j);
        const std::uint32_t t = rng.below(jj + 1);
        const std::uint32_t v = insert(t) ? t : (insert(jj), jj);
        w.idx[out++] = v;
    }
    std::sort(w.idx.begin(), w.idx.end());
}

} // namespace commpress::sparsify::detail

// SPDX-License-Identifier: MIT
// sparsify::top_k — keeps the k coordinates of largest magnitude (exact).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/sparsify/detail/gather.hpp>
#include <commpress/sparsify/detail/k_param.hpp>

namespace commpress::sparsify {

/// Top-k: keeps the k largest |x_i|, ties broken by the lowest index, so the kept set is unique.
/// Deterministic contraction: ||C(x) - x||^2 <= (1 - k/n) ||x||^2, alpha = k/n (OPERATORS.md A.4).
/// NaN magnitudes rank above +inf (they compare by bit pattern), so NaNs are kept first.
struct top_k {
    double ratio = 0.01; ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;   ///< when nonzero, used instead of ratio (capped at n)

    static constexpr std::string_view name = "top_k";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        std::vector<std::uint64_t> keys;
        std::vector<std::uint32_t> order;
        std::vector<std::uint32_t> idx;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const { detail::validate_k(name, ratio, k); }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(ratio)(k); }
    std::string describe() const { return detail::describe_k(name, ratio, k); }

    std::size_t kept(std::size_t n) const noexcept {
        return commpress::detail::kept_count(ratio, k, n);
    }
    double alpha(std::size_t n) const noexcept {
        return n == 0 ? 1.0 : static_cast<double>(kept(n)) / static_cast<double>(n);
    }
    /// In EF-BV's class: deterministic, so C(sqrt(1 - k/n), 0).
    double eta(std::size_t n) const noexcept { return std::sqrt(1.0 - alpha(n)); }
    double omega(std::size_t) const noexcept { return 0.0; }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context&, workspace& w) const noexcept {
        const std::size_t n = x.size(), m = kept(n);
        w.idx.resize(m);
        if (m == n) {
            std::iota(w.idx.begin(), w.idx.end(), std::uint32_t{0});
        } else if constexpr (std::is_same_v<T, float>) {
            // One 64-bit key per element: |x| bits above, inverted index below. A larger key is a
            // larger magnitude or, on a tie, a lower index: one total order, one answer.
            w.keys.resize(n);
            for (std::size_t i = 0; i < n; ++i)
                w.keys[i] = (std::uint64_t{magnitude_bits(x[i])} << 32) |
                            (0xffff'ffffu - static_cast<std::uint32_t>(i));
            std::nth_element(w.keys.begin(), w.keys.begin() + static_cast<std::ptrdiff_t>(m - 1),
                             w.keys.end(), std::greater<>{});
            for (std::size_t j = 0; j < m; ++j)
                w.idx[j] = 0xffff'ffffu - static_cast<std::uint32_t>(w.keys[j]);
            std::sort(w.idx.begin(), w.idx.end());
        } else {
            w.order.resize(n);
            std::iota(w.order.begin(), w.order.end(), std::uint32_t{0});
            std::nth_element(w.order.begin(), w.order.begin() + static_cast<std::ptrdiff_t>(m - 1),
                             w.order.end(), [&](std::uint32_t a, std::uint32_t b) {
                                 const auto ma = magnitude_bits(x[a]), mb = magnitude_bits(x[b]);
                                 return ma > mb || (ma == mb && a < b);
                             });
            std::copy_n(w.order.begin(), m, w.idx.begin());
            std::sort(w.idx.begin(), w.idx.end());
        }
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }

  private:
    // |x| as an unsigned integer: monotone in |x| for every non-NaN value.
    static std::uint32_t magnitude_bits(float v) noexcept {
        return std::bit_cast<std::uint32_t>(v) & 0x7fff'ffffu;
    }
    static std::uint64_t magnitude_bits(double v) noexcept {
        return std::bit_cast<std::uint64_t>(v) & 0x7fff'ffff'ffff'ffffull;
    }
};

} // namespace commpress::sparsify

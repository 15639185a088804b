// SPDX-License-Identifier: MIT
// sparsify::mix_k — top-k plus k coordinates drawn uniformly from the rest (unscaled).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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
#include <commpress/sparsify/detail/sample.hpp>
#include <commpress/sparsify/top_k.hpp>

namespace commpress::sparsify {

/// mix-k ("top-k + rand", EF-BV; OPERATORS.md A.10e): C(x) = top_k(x) + x_R, R a uniform k-subset
/// of the other n - k coordinates (sender's private stream), unscaled; 2k entries, indices sent,
/// ascending. When 2k >= n every coordinate is kept (C(x) = x: eta = omega = 0, alpha = 1).
///
/// With r = x - top_k(x) (||r||^2 <= (1 - k/n) ||x||^2, A.4) and q = k/(n - k):
/// E C(x) - x = -(1 - q) r, so eta = (1 - q) sqrt(1 - k/n) = (n - 2k)/sqrt((n - k) n);
/// E||C(x) - E C(x)||^2 = q (1 - q) ||r||^2, so omega = k (n - 2k)/((n - k) n).
/// Contractive: E||C(x) - x||^2 = (1 - q) ||r||^2 <= (1 - 2k/n) ||x||^2, alpha = 2k/n
/// (= 1 - eta^2 - omega exactly). C is a projection, as the pipeline's alpha composition needs.
struct mix_k {
    double ratio = 0.01; ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;   ///< when nonzero, used instead of ratio

    static constexpr std::string_view name = "mix_k";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        top_k::workspace top;
        detail::sample_workspace sample;
        std::vector<std::uint32_t> rest;
        std::vector<std::uint32_t> idx;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const { detail::validate_k(name, ratio, k); }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(ratio)(k); }
    std::string describe() const { return detail::describe_k(name, ratio, k); }

    /// k for n elements (the top part; the random part has as many).
    std::size_t top_count(std::size_t n) const noexcept {
        return commpress::detail::kept_count(ratio, k, n);
    }
    /// 2k, or n when 2k >= n.
    std::size_t kept(std::size_t n) const noexcept {
        const std::size_t kk = top_count(n);
        return 2 * kk >= n ? n : 2 * kk;
    }

    double eta(std::size_t n) const noexcept {
        if (kept(n) == n)
            return 0.0;
        const double d = static_cast<double>(n), kk = static_cast<double>(top_count(n));
        return (d - 2 * kk) / std::sqrt((d - kk) * d);
    }
    double omega(std::size_t n) const noexcept {
        if (kept(n) == n)
            return 0.0;
        const double d = static_cast<double>(n), kk = static_cast<double>(top_count(n));
        return kk * (d - 2 * kk) / ((d - kk) * d);
    }
    double alpha(std::size_t n) const noexcept {
        return n == 0 ? 1.0 : static_cast<double>(kept(n)) / static_cast<double>(n);
    }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& w) const noexcept {
        const std::size_t n = x.size(), m = kept(n);
        if (m == n) {
            w.idx.resize(n);
            std::iota(w.idx.begin(), w.idx.end(), std::uint32_t{0});
        } else {
            const std::size_t kk = top_count(n);
            const top_k top{.ratio = 1.0, .k = kk};
            const auto t = top.select(x, c, w.top); // ascending
            // The other n - k coordinates, ascending.
            w.rest.resize(n - kk);
            for (std::size_t i = 0, j = 0, out = 0; i < n; ++i) {
                if (j < kk && t.indices[j] == i)
                    ++j;
                else
                    w.rest[out++] = static_cast<std::uint32_t>(i);
            }
            philox rng(c, purpose::sparsify, /*shared=*/false);
            detail::sample_k(rng, n - kk, kk, w.sample); // ranks in `rest`, ascending
            w.idx.resize(m);
            std::size_t a = 0, b = 0, out = 0;
            while (a < kk || b < kk) { // merge two ascending, disjoint lists
                const std::uint32_t ra = a < kk ? t.indices[a] : 0xffff'ffffu;
                const std::uint32_t rb = b < kk ? w.rest[w.sample.idx[b]] : 0xffff'ffffu;
                if (ra < rb) {
                    w.idx[out++] = ra;
                    ++a;
                } else {
                    w.idx[out++] = rb;
                    ++b;
                }
            }
        }
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }
};

} // namespace commpress::sparsify

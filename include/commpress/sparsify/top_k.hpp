// SPDX-License-Identifier: MIT
// sparsify::top_k — keeps the k coordinates of largest magnitude (exact).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/select.hpp>
#include <commpress/sparsify/detail/gather.hpp>
#include <commpress/sparsify/detail/k_param.hpp>

namespace commpress::sparsify {

/// Top-k: keeps the k largest |x_i|, ties broken by the lowest index, so the kept set is unique.
/// Deterministic contraction: ||C(x) - x||^2 <= (1 - k/n) ||x||^2, alpha = k/n (OPERATORS.md A.4).
/// NaN magnitudes rank above +inf (they compare by bit pattern), so NaNs are kept first.
/// Found by radix select (kernels/select.hpp): two passes over x, no sort of n keys.
struct top_k {
    double ratio = 0.01; ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;   ///< when nonzero, used instead of ratio (capped at n)

    static constexpr std::string_view name = "top_k";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        kernels::select_workspace select;
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
        kernels::top_k_indices(x, std::span<std::uint32_t>(w.idx), w.select);
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }
};

} // namespace commpress::sparsify

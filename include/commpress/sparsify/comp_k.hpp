// SPDX-License-Identifier: MIT
// sparsify::comp_k and comp_k_unscaled — k coordinates chosen uniformly among the top k'.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/sparsify/detail/gather.hpp>
#include <commpress/sparsify/detail/k_param.hpp>
#include <commpress/sparsify/detail/sample.hpp>
#include <commpress/sparsify/top_k.hpp>

namespace commpress::sparsify {

/// comp-(k, k') (EF-BV; OPERATORS.md A.10f): T = the top k' coordinates (exactly as top_k: ties
/// to the lowest index), then a uniform k-subset S of T drawn from the sender's private stream.
/// Indices are sent, ascending. k is capped at k' (and both at n).
///
/// Scaled, C(x) = (k'/k) x_S: E C(x) = x_T = top_{k'}(x), so ||E C(x) - x||^2 = ||x - x_T||^2
/// <= (1 - k'/n) ||x||^2 (A.4), eta = sqrt((n - k')/n); each i in T has Var C_i = (k'/k - 1) x_i^2,
/// so E||C(x) - E C(x)||^2 = (k'/k - 1) ||x_T||^2 <= omega ||x||^2, omega = (k' - k)/k.
/// No alpha: C is not a projection (the pipeline's alpha composition assumes one).
///
/// Unscaled, C(x) = x_S, p = k/k': E C(x) = p x_T, so ||E C(x) - x||^2 = ||x||^2 - (2p - p^2)
/// ||x_T||^2 <= (1 - (k/n)(2 - p)) ||x||^2 (using ||x_T||^2 >= (k'/n) ||x||^2): eta^2 = 1 - (k/n)
/// (2 - p); variance p (1 - p) ||x_T||^2, omega = p (1 - p). Contractive with alpha = k/n, proved
/// directly: E||C(x) - x||^2 = ||x||^2 - p ||x_T||^2 <= (1 - k/n) ||x||^2. This is at least
/// 1 - eta^2 - omega (the difference is (1 - p)(p - k/n) >= 0): the two worst cases differ.
template <bool Scaled>
struct basic_comp_k {
    double ratio = 0.01;      ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;        ///< when nonzero, used instead of ratio
    double ratio_prime = 0.1; ///< k' = ceil(ratio_prime * n), at least 1
    std::size_t k_prime = 0;  ///< when nonzero, used instead of ratio_prime

    static constexpr std::string_view name = Scaled ? "comp_k" : "comp_k_unscaled";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        top_k::workspace top;
        detail::sample_workspace sample;
        std::vector<std::uint32_t> idx;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const {
        detail::validate_k(name, ratio, k);
        if (k_prime == 0 && !(ratio_prime > 0.0 && ratio_prime <= 1.0)) {
            std::ostringstream s;
            s << name << ": ratio_prime must be in (0, 1] (or set k_prime > 0), got "
              << ratio_prime;
            commpress::detail::fail_parameter(s.str());
        }
        if (k != 0 && k_prime != 0 && k > k_prime) {
            std::ostringstream s;
            s << name << ": k must not exceed k_prime, got k = " << k
              << " and k_prime = " << k_prime;
            commpress::detail::fail_parameter(s.str());
        }
        if (k == 0 && k_prime == 0 && ratio > ratio_prime) {
            std::ostringstream s;
            s << name << ": ratio must not exceed ratio_prime, got " << ratio << " and "
              << ratio_prime;
            commpress::detail::fail_parameter(s.str());
        }
    }
    void fingerprint(fingerprint_builder& f) const noexcept {
        f(name)(ratio)(k)(ratio_prime)(k_prime);
    }
    std::string describe() const {
        std::ostringstream s;
        s << name << '(';
        if (k != 0)
            s << "k=" << k;
        else
            s << "ratio=" << ratio;
        if (k_prime != 0)
            s << ", k_prime=" << k_prime;
        else
            s << ", ratio_prime=" << ratio_prime;
        s << ')';
        return s.str();
    }

    /// k' for n elements.
    std::size_t top_count(std::size_t n) const noexcept {
        return commpress::detail::kept_count(ratio_prime, k_prime, n);
    }
    /// k for n elements: at most k'.
    std::size_t kept(std::size_t n) const noexcept {
        const std::size_t kk = commpress::detail::kept_count(ratio, k, n), kp = top_count(n);
        return kk < kp ? kk : kp;
    }

    double eta(std::size_t n) const noexcept {
        if (n == 0)
            return 0.0;
        const double d = static_cast<double>(n), kp = static_cast<double>(top_count(n));
        if constexpr (Scaled) {
            return std::sqrt((d - kp) / d);
        } else {
            const double kk = static_cast<double>(kept(n));
            return std::sqrt(std::max(0.0, 1.0 - (kk / d) * (2.0 - kk / kp)));
        }
    }
    double omega(std::size_t n) const noexcept {
        if (n == 0)
            return 0.0;
        const double kp = static_cast<double>(top_count(n)), kk = static_cast<double>(kept(n));
        if constexpr (Scaled)
            return (kp - kk) / kk;
        else
            return (kk / kp) * (1.0 - kk / kp);
    }
    double alpha(std::size_t n) const noexcept requires(!Scaled) {
        return n == 0 ? 1.0 : static_cast<double>(kept(n)) / static_cast<double>(n);
    }
    double decode_scale(std::size_t n) const noexcept {
        if constexpr (Scaled)
            return n == 0 ? 1.0 : static_cast<double>(top_count(n)) / static_cast<double>(kept(n));
        else
            return 1.0;
    }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& w) const noexcept {
        const std::size_t n = x.size(), kp = top_count(n), m = kept(n);
        const top_k top{.ratio = 1.0, .k = kp};
        const auto t = top.select(x, c, w.top); // T, ascending
        philox rng(c, purpose::sparsify, /*shared=*/false);
        detail::sample_k(rng, kp, m, w.sample); // ranks in T, ascending
        w.idx.resize(m);
        for (std::size_t j = 0; j < m; ++j)
            w.idx[j] = t.indices[w.sample.idx[j]];
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }
};

using comp_k = basic_comp_k<true>;
using comp_k_unscaled = basic_comp_k<false>;

} // namespace commpress::sparsify

// SPDX-License-Identifier: MIT
// sparsify::threshold — keeps every coordinate with |x_i| >= lambda (hard threshold).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/arch.hpp>
#include <commpress/kernels/find.hpp>
#include <commpress/sparsify/detail/gather.hpp>

namespace commpress::sparsify {

/// Hard threshold (OPERATORS.md A.5): C(x)_i = x_i if |x_i| >= lambda, else 0. The kept count is
/// data dependent (0..n) and travels in the payload. Deterministic and biased with an absolute
/// error: ||C(x) - x||^2 = sum over dropped x_i^2 <= min(||x||^2, n lambda^2). It is in no B(alpha)
/// with alpha > 0 (||x||_inf < lambda gives C(x) = 0), so it has neither alpha nor omega.
/// NaN is kept (it is not below lambda), so a broken gradient reaches the receiver.
struct threshold {
    double lambda = 0.0; ///< >= 0 and finite; 0 keeps every coordinate

    static constexpr std::string_view name = "threshold";
    static constexpr bool unbiased = false;
    static constexpr bool variable_count = true;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        std::vector<std::uint32_t> idx;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const {
        if (!(lambda >= 0.0 && std::isfinite(lambda))) {
            std::ostringstream s;
            s << name << ": lambda must be finite and >= 0, got " << lambda;
            commpress::detail::fail_parameter(s.str());
        }
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(lambda); }
    std::string describe() const {
        std::ostringstream s;
        s << name << "(lambda=" << lambda << ')';
        return s.str();
    }

    /// The most coordinates a message can carry.
    std::size_t kept(std::size_t n) const noexcept { return n; }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    /// The absolute compressor's bound Delta^2 = n lambda^2 on ||C(x) - x||^2.
    double absolute_error_bound(std::size_t n) const noexcept {
        return static_cast<double>(n) * lambda * lambda;
    }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context&, workspace& w) const noexcept {
        w.idx.clear();
        w.idx.reserve(x.size());             // no allocation after the first call
        const T bound = at_least<T>(lambda); // |v| >= lambda exactly when |v| >= bound
        for (std::size_t i = kernels::find_at_least(kernels::arch{}, x, 0, bound); i < x.size();
             i = kernels::find_at_least(kernels::arch{}, x, i + 1, bound))
            w.idx.push_back(static_cast<std::uint32_t>(i));
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    /// The smallest T at or above lambda (a double): for every T v, v >= lambda iff v >= it.
    template <class T>
    static T at_least(double lambda) noexcept {
        T b = static_cast<T>(lambda); // nearest: may lie below lambda
        if (static_cast<double>(b) < lambda)
            b = std::nextafter(b, std::numeric_limits<T>::infinity());
        return b;
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }
};

} // namespace commpress::sparsify

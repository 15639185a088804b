// SPDX-License-Identifier: MIT
// sparsify::adaptive_rand — one coordinate, drawn with probability proportional to its magnitude.
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
#include <commpress/kernels/reduce.hpp>
#include <commpress/sparsify/detail/gather.hpp>

namespace commpress::sparsify {

/// Adaptive random sparsification (Beznosikov, Horvath, Richtarik, Safaryan, JMLR 2023;
/// OPERATORS.md A.1): C(x) = x_i e_i with probability |x_i| / ||x||_1, unscaled. Biased and
/// contractive in expectation: E||C(x) - x||^2 = ||x||^2 - sum |x_i|^3 / ||x||_1, and
/// sum |x_i|^3 / ||x||_1 >= ||x||^4 / ||x||_1^2 >= ||x||^2 / n (Cauchy-Schwarz twice), so
/// alpha = 1/n, attained by flat vectors. The index is sent (it depends on the data).
/// x = 0 keeps coordinate 0; a non-finite ||x||_1 keeps the first non-finite coordinate.
struct adaptive_rand {
    static constexpr std::string_view name = "adaptive_rand";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        std::uint32_t idx = 0;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    std::size_t kept(std::size_t n) const noexcept { return n == 0 ? 0 : 1; }
    double alpha(std::size_t n) const noexcept {
        return n == 0 ? 1.0 : 1.0 / static_cast<double>(n);
    }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& w) const noexcept {
        const std::span<const std::uint32_t> idx(&w.idx, x.empty() ? 0 : 1);
        if (!x.empty())
            w.idx = draw(x, c);
        return {detail::gather(x, idx, w.vf, w.vd), idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }

  private:
    template <class T>
    static std::uint32_t draw(std::span<const T> x, const draw_context& c) noexcept {
        const double l1 = kernels::sum_abs(x);
        if (!std::isfinite(l1)) {
            std::size_t i = 0;
            while (i + 1 < x.size() && std::isfinite(x[i]))
                ++i;
            return static_cast<std::uint32_t>(i);
        }
        if (l1 == 0)
            return 0;
        // u uniform in [0, ||x||_1) from 53 random bits; the first i whose running sum passes u.
        philox rng(c, purpose::sparsify, /*shared=*/false);
        const std::uint64_t bits = (std::uint64_t{rng.next()} << 21) ^ (rng.next() >> 11);
        const double u = static_cast<double>(bits) * 0x1p-53 * l1;
        double run = 0;
        std::size_t last = 0; // the last nonzero: where rounding of the running sum ends up
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (x[i] == 0)
                continue;
            run += std::abs(static_cast<double>(x[i]));
            last = i;
            if (run > u)
                break;
        }
        return static_cast<std::uint32_t>(last);
    }
};

} // namespace commpress::sparsify

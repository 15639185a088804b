// SPDX-License-Identifier: MIT
// quantize::terngrad, quantize::terngrad_clipped — ternary {-s, 0, +s} stochastic rounding.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/kernels/reduce.hpp>

namespace commpress::detail {

/// The shared ternary law of both TernGrad variants, given the scaler s (already a binary32
/// value, s > 0 finite): entry j keeps sign(x_j) s with probability min(|x_j|, s) / s, else 0.
/// Code 0 = 0, 1 = +s, 2 = -s. The coin compares slot j's word with p 2^32: P(keep) =
/// ceil(p 2^32) / 2^32, within 2^-32 of p, and exactly 1 at |x_j| >= s.
template <class T>
void ternary_round(std::span<const T> v, const draw_context& c, double s,
                   std::span<std::uint32_t> codes) noexcept {
    slot_stream rng(c, purpose::quantize);
    rng.for_each(0, v.size(), [&](std::size_t j, std::uint32_t word) { // branch-free
        const double a = std::abs(static_cast<double>(v[j]));
        const bool keep = (a >= s) | (static_cast<double>(word) * 0x1p-32 < a / s);
        codes[j] = keep ? (std::signbit(v[j]) ? 2u : 1u) : 0u;
    });
}

/// Poisoned tensor (NaN or inf inside): every entry gets the code of its sign, so with the scale
/// NaN or inf every entry decodes to NaN or +-inf (as qsgd does with its poisoned buckets).
template <class T>
void ternary_poison(std::span<const T> v, std::span<std::uint32_t> codes) noexcept {
    for (std::size_t j = 0; j < v.size(); ++j)
        codes[j] = std::signbit(v[j]) ? 2u : 1u;
}

/// The binary32 scale for a double scaler s >= 0: rounded up so that |x_j| <= s_sent whenever
/// |x_j| <= s (the probabilities stay <= 1 and the law unbiased), capped at FLT_MAX for finite s
/// (entries beyond saturate: binary32 cannot carry them).
inline float ternary_scale_up(double s) noexcept {
    constexpr float fmax = std::numeric_limits<float>::max();
    if (std::isnan(s))
        return std::numeric_limits<float>::quiet_NaN();
    if (std::isinf(s))
        return std::numeric_limits<float>::infinity();
    if (s >= static_cast<double>(fmax))
        return fmax;
    float f = static_cast<float>(s);
    if (static_cast<double>(f) < s)
        f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
}

struct ternary_decoder {
    float scale;
    float operator()(std::size_t, std::uint32_t code) const noexcept {
        // Integer selects, not branches on random codes: 0 -> +0, 1 -> scale, 2 -> -scale.
        const std::uint32_t mag = std::bit_cast<std::uint32_t>(scale) & (0u - (code != 0));
        return std::bit_cast<float>(mag ^ ((code >> 1) << 31));
    }
};

} // namespace commpress::detail

namespace commpress::quantize {

/// TernGrad (Wen et al., NeurIPS 2017; OPERATORS.md A.7) without clipping, per tensor:
/// s = ||x||_inf (exact: a max), C(x)_i = s sign(x_i) b_i, b_i ~ Bernoulli(|x_i| / s).
/// Unbiased; E||C(x) - x||^2 = sum_i |x_i| (s - |x_i|) = ||x||_inf ||x||_1 - ||x||^2, so
/// omega(x) = ||x||_inf ||x||_1 / ||x||^2 - 1. OPERATORS.md A.7 bounds it by sqrt(d) - 1
/// (||x||_1 <= sqrt(d) ||x||, ||x||_inf <= ||x||), which is never attained. The supremum [D]:
/// with x_1 = ||x||_inf = 1 and the rest equal to t, omega + 1 <= (1 + (d-1) t) / (1 + (d-1) t^2),
/// maximal at t = 1 / (sqrt(d) + 1), so sup omega(x) = (sqrt(d) - 1) / 2, which omega(m) reports
/// (attained by that x; tests/quantize/terngrad.cpp checks it).
/// Codes: 0 = the value 0, 1 = +s, 2 = -s (2 bits); one binary32 scale. Double inputs send s
/// rounded up to binary32 (still unbiased), capped at FLT_MAX.
/// Non-finite inputs (qsgd's policy): a tensor holding NaN sends scale NaN, one holding +-inf
/// (and no NaN) sends +inf, and every entry gets the code of its sign, so every entry decodes
/// to NaN or +-inf (its sign) with every encoder; code 0 always decodes to the value 0.
struct terngrad {
    static constexpr std::string_view name = "terngrad";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = true;

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    double omega(std::size_t m) const noexcept {
        return m == 0 ? 0.0 : (std::sqrt(static_cast<double>(m)) - 1.0) / 2.0;
    }
    unsigned code_bits() const noexcept { return 2; }
    std::size_t scale_count(std::size_t m) const noexcept { return m == 0 ? 0 : 1; }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 2; }
    bool valid_scale(float s) const noexcept { return !(s < 0.0f); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        if (v.empty())
            return;
        // The largest |x_i| by integer compares on the bit patterns (vectorises; a max is exact
        // in any order), above inf's when some x_i is NaN.
        using U = kernels::detail::bits_t<T>;
        constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
        const U top = kernels::max_magnitude_bits(v);
        if (top >= inf_bits) {
            scales[0] = top > inf_bits ? std::numeric_limits<float>::quiet_NaN()
                                       : std::numeric_limits<float>::infinity();
            detail::ternary_poison(v, codes);
            return;
        }
        const float s = detail::ternary_scale_up(static_cast<double>(std::bit_cast<T>(top)));
        scales[0] = s;
        if (!(s > 0.0f)) {
            std::fill(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(v.size()), 0u);
            return;
        }
        detail::ternary_round(v, c, static_cast<double>(s), codes);
    }

    detail::ternary_decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales.empty() ? 0.0f : scales[0]};
    }
};

/// TernGrad with gradient clipping (Wen et al., the code's clip_gradients_by_stddev): per tensor,
/// sigma = population standard deviation of the entries (two passes: mean, then the mean square
/// deviation, both with the fixed-width kernels), s = clip sigma rounded to binary32 (to
/// nearest), entries clipped to [-s, s], then the ternary law of terngrad with that s.
/// Biased (clipping), and no contraction constant: a constant tensor has sigma = 0, so s = 0 and
/// C(x) = 0; a one-hot tensor keeps its entry with probability clip sigma / |x_i| < 1 for large d.
/// Codes, scale and non-finite policy as terngrad (a NaN anywhere gives scale NaN, else an inf
/// gives scale +inf; every entry then decodes to NaN or +-inf). A finite tensor whose clip sigma
/// exceeds FLT_MAX sends FLT_MAX.
struct terngrad_clipped {
    double clip = 2.5; ///< c in s = c sigma; must be finite and > 0

    static constexpr std::string_view name = "terngrad_clipped";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = true;

    void validate() const {
        if (!(clip > 0.0) || !std::isfinite(clip))
            detail::fail_parameter("terngrad_clipped: clip must be finite and > 0, got " +
                                   std::to_string(clip));
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(clip); }
    std::string describe() const { return "terngrad_clipped(clip=" + std::to_string(clip) + ")"; }

    unsigned code_bits() const noexcept { return 2; }
    std::size_t scale_count(std::size_t m) const noexcept { return m == 0 ? 0 : 1; }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 2; }
    bool valid_scale(float s) const noexcept { return !(s < 0.0f); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        if (v.empty())
            return;
        bool nan = false, inf = false;
        for (const T x : v) {
            nan |= std::isnan(x);
            inf |= std::isinf(x);
        }
        if (nan || inf) {
            scales[0] = nan ? std::numeric_limits<float>::quiet_NaN()
                            : std::numeric_limits<float>::infinity();
            detail::ternary_poison(v, codes);
            return;
        }
        const double d = static_cast<double>(v.size());
        const double mean =
            kernels::detail::virtual_width_sum(v, [](T x) { return static_cast<double>(x); }) / d;
        const double var = kernels::detail::virtual_width_sum(v,
                                                              [mean](T x) {
                                                                  const double e =
                                                                      static_cast<double>(x) - mean;
                                                                  return e * e;
                                                              }) /
                           d;
        const double sd = clip * std::sqrt(var);
        constexpr double fmax = std::numeric_limits<float>::max();
        // Finite inputs: a clip sigma beyond binary32 (or an overflowing double sum) saturates.
        const float s = !(sd < fmax) ? std::numeric_limits<float>::max() : static_cast<float>(sd);
        scales[0] = s;
        if (!(s > 0.0f)) {
            std::fill(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(v.size()), 0u);
            return;
        }
        detail::ternary_round(v, c, static_cast<double>(s), codes); // |x_i| >= s: kept, clipped
    }

    detail::ternary_decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales.empty() ? 0.0f : scales[0]};
    }
};

} // namespace commpress::quantize

// SPDX-License-Identifier: MIT
// quantize::uniform, quantize::uniform_sr — min-max b-bit uniform quantization per bucket.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/reduce.hpp>

namespace commpress::detail {

/// What both uniform variants share. Per bucket of d entries: mn = min x_i, mx = max x_i (exact
/// for float inputs; doubles round outward to binary32, finite values saturating at +-FLT_MAX),
/// L = 2^b - 1 levels above mn, Delta = (mx - mn) / L; entry i gets code k_i in [0, L] and decodes
/// to mn (k = 0), mx (k = L) or mn + k Delta (computed in double, rounded to binary32).
/// The entries equal to mn and mx get codes 0 and L exactly, so they decode without error.
///
/// Theory [D] (exact arithmetic). Let d >= 2, mx > mn. At least two entries (one at mn, one at
/// mx) are exact; every other one is off by at most Delta / 2 (round to nearest), or has variance
/// Delta^2 p (1 - p) <= Delta^2 / 4 (stochastic rounding). So the bucket error is at most
/// (d - 2) Delta^2 / 4 = (d - 2) (mx - mn)^2 / (4 L^2). And (mx - mn)^2 <= 2 ||x_b||^2: if mn and
/// mx have opposite signs, (mx - mn)^2 <= 2 (mx^2 + mn^2) (parallelogram); otherwise (mx - mn)^2 <=
/// max(mx^2, mn^2). Hence error_b <= (d - 2) / (2 L^2) ||x_b||^2, summed over buckets with d the
/// largest bucket length. Tight: x = (a, -a, 0, ..., 0), L odd puts 0 exactly halfway between two
/// levels. Non-finite buckets: one holding NaN sends (NaN, NaN) and codes 0: it decodes to NaN; one
/// holding +-inf (no NaN) sends (-inf, +inf) and codes 0 (sign bit set) or L: every entry decodes
/// to +-inf by its sign. No NaN is ever converted to an integer.
struct uniform_common {
    static std::uint32_t top(unsigned bits) noexcept { return (1u << bits) - 1u; }

    static float down(double v) noexcept { // largest binary32 <= v, saturating at -FLT_MAX
        constexpr double fmax = std::numeric_limits<float>::max();
        if (v <= -fmax)
            return -std::numeric_limits<float>::max();
        if (v >= fmax)
            return std::numeric_limits<float>::max();
        float f = static_cast<float>(v);
        if (static_cast<double>(f) > v)
            f = std::nextafter(f, -std::numeric_limits<float>::infinity());
        return f;
    }
    static float up(double v) noexcept { return -down(-v); }

    static void validate(std::string_view who, unsigned bits) {
        if (bits == 0 || bits > 8)
            fail_parameter(std::string(who) + ": bits must be in [1, 8], got " +
                           std::to_string(bits));
    }

    /// Rounds bucket by bucket; Stochastic picks floor(t) + Bernoulli(t - floor t), else nearest.
    template <bool Stochastic, class T>
    static void run(std::span<const T> v, const draw_context& c, unsigned bits, std::size_t bucket,
                    std::span<float> scales, std::span<std::uint32_t> codes) noexcept {
        using U = kernels::detail::bits_t<T>;
        constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
        const std::size_t m = v.size(), b = bucket ? bucket : std::max<std::size_t>(m, 1);
        const std::uint32_t L = top(bits);
        slot_stream rng(c, purpose::quantize);
        for (std::size_t start = 0, k = 0; start < m; start += b, ++k) {
            const std::size_t len = std::min(b, m - start);
            const T* const x = v.data() + start;
            std::uint32_t* const out = codes.data() + start;
            const kernels::extremes<T> e = kernels::min_max(std::span<const T>(x, len));
            const bool nan = e.top > inf_bits, inf = e.top == inf_bits;
            if (nan || inf) {
                const float q = std::numeric_limits<float>::quiet_NaN();
                const float i = std::numeric_limits<float>::infinity();
                scales[2 * k] = nan ? q : -i;
                scales[2 * k + 1] = nan ? q : i;
                for (std::size_t j = 0; j < len; ++j)
                    out[j] = !nan && !std::signbit(x[j]) ? L : 0u;
                continue;
            }
            // A zero min or max has the sign of the bucket's first zero, as in the sequential
            // scan (x < lo ? x : lo) that defined the format; min_max puts -0 below +0.
            const double lo = e.lo == 0 ? first_zero(x, len) : static_cast<double>(e.lo);
            const double hi = e.hi == 0 ? first_zero(x, len) : static_cast<double>(e.hi);
            const float mn = down(lo), mx = up(hi);
            scales[2 * k] = mn;
            scales[2 * k + 1] = mx;
            const double range = static_cast<double>(mx) - static_cast<double>(mn); // >= 0
            // By value into the loops: a store to out could otherwise alias L or flat.
            const std::uint32_t flat = range == 0;
            const level_fn f{mn, mx, flat ? 1.0 : range, static_cast<double>(L), L, flat};
            // Float buckets hold x in [mn, mx] exactly (mn, mx are their min and max).
            constexpr bool Clamp = !std::is_same_v<T, float>;
            if constexpr (Stochastic)
                rng.for_each(
                    start, start + len, [x, out, f, start](std::size_t j, std::uint32_t w) {
                        out[j - start] =
                            f.template code<true, Clamp>(static_cast<double>(x[j - start]), w);
                    });
            else
                for (std::size_t j = 0; j < len; ++j)
                    out[j] = f.template code<false, Clamp>(static_cast<double>(x[j]), 0);
        }
    }

    template <class T>
    static double first_zero(const T* x, std::size_t len) noexcept {
        for (std::size_t j = 0; j < len; ++j)
            if (x[j] == 0)
                return static_cast<double>(x[j]);
        return 0.0; // not reached: min_max found a zero
    }

    /// The code of a finite x in a bucket with finite scales mn <= mx. Branch-free for GCC 12's
    /// vectoriser under -ftrapping-math: every floating-point operation runs unconditionally,
    /// no std::floor (t >= 0, so truncation is floor), and integer masks, not selects on
    /// floating-point compares, pick the case. Clamp: t is clamped to [0, L] first, needed only
    /// when mn > x or mx < x is possible (doubles beyond +-FLT_MAX); float buckets skip it, as a
    /// clamp that GCC leaves as a branch before the conversion to int stops the vectoriser.
    struct level_fn {
        double dmn, dmx, r, Ld; // r: mx - mn, or 1 for a flat bucket
        std::uint32_t L, flat;

        template <bool Stochastic, bool Clamp>
        std::uint32_t code(double x, std::uint32_t word) const noexcept {
            double t = (x - dmn) / r * Ld; // in [0, L] for x in [mn, mx]: rounding is monotone
            if constexpr (Clamp)
                t = std::min(std::max(t, 0.0), Ld);
            const auto ti = static_cast<std::int32_t>(t);
            const double frac = t - ti;
            std::uint32_t up;
            if constexpr (Stochastic)
                up = static_cast<double>(word) * 0x1p-32 < frac;
            else
                up = frac >= 0.5; // ties away from mn
            const std::uint32_t inner = std::min(static_cast<std::uint32_t>(ti) + up, L);
            const std::uint32_t at_min = std::uint32_t{!(x > dmn)} | flat; // code 0
            const std::uint32_t at_max = x >= dmx;                         // code L
            return ((inner & (at_max - 1u)) | (L & (0u - at_max))) & (at_min - 1u);
        }
    };

    /// One bucket (two scales): the at most 256 values are tabulated when the decoder is made,
    /// and decoding is a lookup (same arithmetic, same bits).
    struct decoder {
        std::span<const float> scales;
        commpress::detail::bucket_divider bucket;
        std::uint32_t top;
        bool tabulated = false;
        std::array<float, 256> table{};

        decoder(std::span<const float> s, std::size_t b, std::uint32_t t) noexcept
            : scales(s), bucket(b), top(t) {
            if (scales.size() == 2 && top < table.size()) {
                tabulated = true;
                for (std::uint32_t c = 0; c <= top; ++c)
                    table[c] = value(0, c);
            }
        }

        float value(std::size_t k, std::uint32_t code) const noexcept {
            const float mn = scales[2 * k], mx = scales[2 * k + 1];
            const double lo = mn, hi = mx; // computed for every code, then selected: no branch
            const auto mid = static_cast<float>(lo + static_cast<double>(code) * ((hi - lo) / top));
            return code == 0 ? mn : code >= top ? mx : mid;
        }

        float operator()(std::size_t slot, std::uint32_t code) const noexcept {
            return tabulated ? table[code] : value(bucket(slot), code);
        }
    };
};

} // namespace commpress::detail

namespace commpress::quantize {

/// Min-max uniform quantization (deterministic, round to nearest): per bucket (0 = the whole
/// tensor) two binary32 scales (min, max) and b-bit codes, b in 1..8. Biased. Contractive in
/// exact arithmetic (see detail::uniform_common): ||C(x) - x||^2 <= (d - 2) / (2 L^2) ||x||^2,
/// L = 2^b - 1, d the bucket length, so alpha = 1 - (d - 2) / (2 L^2) when positive, else 0
/// (no guarantee; e.g. b = 1 and d >= 4). Binary32 rounding of the decoded values adds up to
/// 2^-24 max(|min|, |max|) per entry on top of the Delta / 2.
/// Code 0 means "min", not the value 0: zero_code_is_zero = false.
struct uniform {
    unsigned bits = 8;
    std::size_t bucket = 0; ///< entries per (min, max) pair; 0 = one pair for the whole tensor

    static constexpr std::string_view name = "uniform";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = false;

    void validate() const { detail::uniform_common::validate(name, bits); }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(bits)(bucket); }
    std::string describe() const {
        return "uniform(bits=" + std::to_string(bits) +
               (bucket ? ", bucket=" + std::to_string(bucket) : std::string()) + ")";
    }

    double alpha(std::size_t m) const noexcept {
        const double d = static_cast<double>(bucket ? std::min(bucket, m) : m);
        const double L = detail::uniform_common::top(bits);
        return d <= 2 ? 1.0 : std::max(0.0, 1.0 - (d - 2) / (2 * L * L));
    }
    unsigned code_bits() const noexcept { return bits; }
    std::size_t scale_count(std::size_t m) const noexcept {
        return 2 * commpress::detail::bucket_count(m, bucket);
    }
    bool valid_code(std::uint32_t c) const noexcept {
        return c <= detail::uniform_common::top(bits);
    }
    bool valid_scale(float) const noexcept { return true; } // any pair decodes without UB

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        detail::uniform_common::run<false>(v, c, bits, bucket, scales, codes);
    }
    detail::uniform_common::decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales, bucket, detail::uniform_common::top(bits)};
    }
};

/// Min-max uniform quantization with stochastic rounding: as uniform, but entry i rounds up from
/// floor(t_i) with probability t_i - floor(t_i) (slot i's random word), so E C(x) = x. Per entry
/// Var = Delta^2 p (1 - p) <= Delta^2 / 4, Delta = (max - min) / (2^b - 1): a data-dependent
/// bound E||C(x) - x||^2 <= sum_buckets (d_b - 2) Delta_b^2 / 4, and the worst case over all x
/// (detail::uniform_common) omega = (d - 2) / (2 L^2), d the bucket length (0 for d <= 2).
struct uniform_sr {
    unsigned bits = 8;
    std::size_t bucket = 0;

    static constexpr std::string_view name = "uniform_sr";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = false;

    void validate() const { detail::uniform_common::validate(name, bits); }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(bits)(bucket); }
    std::string describe() const {
        return "uniform_sr(bits=" + std::to_string(bits) +
               (bucket ? ", bucket=" + std::to_string(bucket) : std::string()) + ")";
    }

    double omega(std::size_t m) const noexcept {
        const double d = static_cast<double>(bucket ? std::min(bucket, m) : m);
        const double L = detail::uniform_common::top(bits);
        return d <= 2 ? 0.0 : (d - 2) / (2 * L * L);
    }
    unsigned code_bits() const noexcept { return bits; }
    std::size_t scale_count(std::size_t m) const noexcept {
        return 2 * commpress::detail::bucket_count(m, bucket);
    }
    bool valid_code(std::uint32_t c) const noexcept {
        return c <= detail::uniform_common::top(bits);
    }
    bool valid_scale(float) const noexcept { return true; }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        detail::uniform_common::run<true>(v, c, bits, bucket, scales, codes);
    }
    detail::uniform_common::decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales, bucket, detail::uniform_common::top(bits)};
    }
};

} // namespace commpress::quantize

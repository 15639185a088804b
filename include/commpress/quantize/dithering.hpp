// SPDX-License-Identifier: MIT
// quantize::random_dithering (uniform levels) and quantize::natural_dithering (levels 2^-k),
// both scaled by a per-bucket 2-norm or max-norm.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/quantize/detail/dither.hpp>

namespace commpress::detail {

inline std::string describe_dithering(std::string_view name, std::uint32_t levels,
                                      quantize::norm_kind kind, std::size_t bucket) {
    return std::string(name) + "(levels=" + std::to_string(levels) +
           ", norm=" + std::string(norm_kind_name(kind)) +
           (bucket ? ", bucket=" + std::to_string(bucket) : std::string()) + ")";
}

} // namespace commpress::detail

namespace commpress::quantize {

/// Random dithering (Alistarh et al. 2017; OPERATORS.md A.8, the p-norm generalisation of QSGD):
/// per bucket send nf >= ||x_b||_p (p = 2 or inf, rounded up to binary32) and per entry a sign
/// and a level l in [0, s] with E[l] = s |x_i| / nf: the two neighbours of s |x_i| / nf, up with
/// probability equal to the fractional part. Decodes to sign nf l / s; unbiased.
/// omega(m) = min(d/s^2, d^{1/r}/s), r = min(p, 2) = 2 for both norms (A.8, tag [U]). It also
/// follows directly [D]: Var C_i = (nf/s)^2 p_i (1 - p_i) <= (nf/s)^2 min(1/4, s|x_i|/nf), so
/// sum_i Var C_i <= min(d nf^2 / (4 s^2), nf ||x||_1 / s), and nf <= ||x||_2 (up to the upward
/// binary32 rounding), ||x||_1 <= sqrt(d) ||x||_2.
/// Code: (level << 1) | sign, 1 + ceil(log2(s + 1)) bits; code 0 is the value 0; a level-0 code
/// with the sign bit (1) is never produced and is rejected. Non-finite and overflowing buckets
/// as in detail::dither above (and as quantize::qsgd). d is the bucket length.
struct random_dithering {
    std::uint32_t levels = 16; ///< s
    norm_kind norm = norm_kind::l2;
    std::size_t bucket = 0; ///< entries per norm; 0 = one norm for the whole tensor

    static constexpr std::string_view name = "random_dithering";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = true;
    static constexpr std::uint32_t max_levels = 1u << 24;

    void validate() const {
        if (levels == 0 || levels > max_levels)
            commpress::detail::fail_parameter(
                "random_dithering: levels must be in [1, 2^24], got " + std::to_string(levels));
        if (!commpress::detail::valid_norm_kind(norm))
            commpress::detail::fail_parameter(
                "random_dithering: norm must be norm_kind::l2 or norm_kind::linf, got " +
                std::to_string(static_cast<unsigned>(norm)));
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(levels)(norm)(bucket); }
    std::string describe() const {
        return commpress::detail::describe_dithering(name, levels, norm, bucket);
    }

    double omega(std::size_t m) const noexcept {
        const double d = static_cast<double>(bucket ? std::min(bucket, m) : m), s = levels;
        return std::min(d / (s * s), std::sqrt(d) / s); // d^{1/r}, r = min(p, 2) = 2
    }
    unsigned code_bits() const noexcept {
        return 1 + static_cast<unsigned>(std::bit_width(levels));
    }
    std::size_t scale_count(std::size_t m) const noexcept {
        return commpress::detail::bucket_count(m, bucket);
    }
    bool valid_code(std::uint32_t c) const noexcept { return (c >> 1) <= levels && c != 1; }
    bool valid_scale(float s) const noexcept { return !(s < 0.0f); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        commpress::detail::dither(v, c, scales, codes, bucket, norm,
                                  commpress::detail::uniform_level{levels});
    }

    using decoder = commpress::detail::uniform_level_decoder;
    decoder dequantizer(std::span<const float> scales) const noexcept {
        return decoder(scales, bucket, static_cast<double>(levels));
    }
};

/// Natural dithering (Horváth et al., arXiv 1905.10988; OPERATORS.md A.10): per bucket send
/// nf >= ||x_b||_p as above; y_i = |x_i| / nf is rounded unbiasedly to one of its two neighbours
/// in the levels {0, 2^{1-s}, 2^{2-s}, ..., 1/2, 1} (level index l in [0, s], value 2^{l-s} for
/// l >= 1); decodes to sign nf 2^{l-s}. Unbiased.
/// omega(m) = 1/8 + d^{1/r} 2^{1-s} min(1, d^{1/r} 2^{1-s}), r = min(p, 2) = 2 (A.10, tag [U]).
/// It also follows directly [D]: between two nonzero levels 2^-k <= y < 2^{1-k} the rounding
/// variance is at most y^2 / 8 (the C_nat argument); below 2^{1-s} it is y (2^{1-s} - y) <=
/// min(2^{1-s} y, 2^{-2s}); summed with nf y_i = |x_i|: omega <= 1/8 + min(sqrt(d) 2^{1-s},
/// d 2^{-2s}), which is below the stated bound.
/// Code: (l << 1) | sign, 1 + ceil(log2(s + 1)) bits; s <= 64 (the smallest level is then 2^-63
/// of the norm, and a code fits in a byte). Code 0 is the value 0; code 1 is never produced and
/// is rejected. Non-finite and overflowing buckets as in detail::dither above.
struct natural_dithering {
    std::uint32_t levels = 8; ///< s
    norm_kind norm = norm_kind::l2;
    std::size_t bucket = 0; ///< entries per norm; 0 = one norm for the whole tensor

    static constexpr std::string_view name = "natural_dithering";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = true;
    static constexpr std::uint32_t max_levels = 64;

    void validate() const {
        if (levels == 0 || levels > max_levels)
            commpress::detail::fail_parameter("natural_dithering: levels must be in [1, 64], got " +
                                              std::to_string(levels));
        if (!commpress::detail::valid_norm_kind(norm))
            commpress::detail::fail_parameter(
                "natural_dithering: norm must be norm_kind::l2 or norm_kind::linf, got " +
                std::to_string(static_cast<unsigned>(norm)));
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(levels)(norm)(bucket); }
    std::string describe() const {
        return commpress::detail::describe_dithering(name, levels, norm, bucket);
    }

    double omega(std::size_t m) const noexcept {
        const double d = static_cast<double>(bucket ? std::min(bucket, m) : m);
        const double t = std::sqrt(d) * std::ldexp(1.0, 1 - static_cast<int>(levels));
        return 0.125 + t * std::min(1.0, t);
    }
    unsigned code_bits() const noexcept {
        return 1 + static_cast<unsigned>(std::bit_width(levels));
    }
    std::size_t scale_count(std::size_t m) const noexcept {
        return commpress::detail::bucket_count(m, bucket);
    }
    bool valid_code(std::uint32_t c) const noexcept { return (c >> 1) <= levels && c != 1; }
    bool valid_scale(float s) const noexcept { return !(s < 0.0f); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        const int s = static_cast<int>(levels);
        commpress::detail::dither(
            v, c, scales, codes, bucket, norm, [s](double y, std::uint32_t word) noexcept {
                if (y >= 1.0)
                    return static_cast<std::uint32_t>(s);
                const double u = static_cast<double>(word) * 0x1p-32;
                int e = 0;
                const double frac = std::frexp(y, &e); // y = frac 2^e, frac in [1/2, 1)
                const int lo = e - 1 + s;              // index of the level 2^{e-1} <= y
                if (lo >= 1) // between 2^{e-1} and 2^e: up w.p. (y - 2^{e-1}) / 2^{e-1}
                    return static_cast<std::uint32_t>(u < 2 * frac - 1 ? lo + 1 : lo);
                // below the smallest nonzero level 2^{1-s}: up to it w.p. y / 2^{1-s}
                return u < std::ldexp(y, s - 1) ? 1u : 0u;
            });
    }

    struct decoder {
        std::span<const float> norms;
        commpress::detail::bucket_divider bucket;
        int levels;
        float operator()(std::size_t slot, std::uint32_t code) const noexcept {
            const std::uint32_t l = code >> 1;
            if (l == 0)
                return 0.0f;
            const double v =
                std::ldexp(static_cast<double>(norms[bucket(slot)]), static_cast<int>(l) - levels);
            return static_cast<float>((code & 1u) ? -v : v);
        }
    };
    decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales, bucket, static_cast<int>(levels)};
    }
};

} // namespace commpress::quantize

// SPDX-License-Identifier: MIT
// The skeleton of the norm-scaled stochastic quantizers (qsgd, random and natural dithering):
// the per-bucket norm they send and the loop that rounds every entry against it.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/reduce.hpp>

namespace commpress::quantize {

/// Which norm scales a bucket: ||x||_2 or ||x||_inf.
enum class norm_kind : std::uint8_t { l2 = 2, linf = 255 };

} // namespace commpress::quantize

// Helpers live in commpress::detail, not commpress::quantize::detail: a nested `detail` would
// hide commpress::detail (fail_parameter, ...) from unqualified `detail::` calls in quantize/.
namespace commpress::detail {

inline bool valid_norm_kind(quantize::norm_kind k) noexcept {
    return k == quantize::norm_kind::l2 || k == quantize::norm_kind::linf;
}

inline std::string_view norm_kind_name(quantize::norm_kind k) noexcept {
    return k == quantize::norm_kind::l2 ? "l2" : k == quantize::norm_kind::linf ? "linf" : "?";
}

/// ||x||_2 (machine-independent sum of squares in double) or ||x||_inf (exact; NaN if any entry
/// is NaN, whatever its position).
template <class T>
double bucket_norm(std::span<const T> x, quantize::norm_kind k) noexcept {
    if (k == quantize::norm_kind::l2)
        return std::sqrt(kernels::sum_squares(x));
    double m = 0;
    for (const T v : x) {
        const double a = std::abs(static_cast<double>(v));
        if (std::isnan(a))
            return a;
        if (a > m)
            m = a;
    }
    return m;
}

/// The binary32 scale sent for a bucket norm: rounded up, so that every |x_i| <= scale and
/// y_i = |x_i| / scale <= 1 (what unbiased rounding needs); capped at FLT_MAX when the norm of
/// finite values exceeds binary32 (FLT_MAX still bounds every float |x_i|; doubles beyond it
/// saturate). inf and NaN norms pass through: the caller poisons the bucket.
inline float sent_norm(double norm) noexcept {
    constexpr float fmax = std::numeric_limits<float>::max();
    if (std::isfinite(norm) && norm > static_cast<double>(fmax))
        return fmax;
    float nf = static_cast<float>(norm);
    if (static_cast<double>(nf) < norm && nf < fmax)
        nf = std::nextafter(nf, std::numeric_limits<float>::infinity());
    return nf;
}

/// The shared skeleton of the dithering quantizers. Per bucket: send nf = sent_norm(||x_b||_p)
/// (rounded up, so y_i = |x_i| / nf <= 1); a zero bucket sends code 0 everywhere; a bucket whose
/// norm is inf or NaN (an entry is inf or NaN) sends level 1 with each entry's sign, so it decodes
/// to +-inf or NaN with every encoder; otherwise code (level << 1) | sign with
/// level = round(y_i, random word of slot j) in [0, s], and no sign on level 0 (code 0 is 0).
template <class T, class Round>
void dither(std::span<const T> v, const draw_context& c, std::span<float> scales,
            std::span<std::uint32_t> codes, std::size_t bucket, quantize::norm_kind kind,
            Round round) noexcept {
    const std::size_t m = v.size(), b = bucket ? bucket : std::max<std::size_t>(m, 1);
    slot_stream rng(c, purpose::quantize);
    for (std::size_t start = 0, k = 0; start < m; start += b, ++k) {
        const std::size_t len = std::min(b, m - start);
        const float nf = sent_norm(bucket_norm(v.subspan(start, len), kind));
        scales[k] = nf;
        if (nf == 0.0f) {
            std::fill_n(codes.begin() + static_cast<std::ptrdiff_t>(start), len, 0u);
            continue;
        }
        if (!std::isfinite(nf)) {
            for (std::size_t j = start; j < start + len; ++j)
                codes[j] = 2u | (std::signbit(v[j]) ? 1u : 0u);
            continue;
        }
        const double scale = nf;
        rng.for_each(start, start + len, [&](std::size_t j, std::uint32_t word) {
            const double y = std::abs(static_cast<double>(v[j])) / scale; // in [0, 1]
            // y = 0 is level 0 whatever the rounding does there; a mask, not a select on a
            // floating-point compare, keeps the loop vectorisable.
            const std::uint32_t level = round(y, word) & (0u - std::uint32_t{y > 0});
            codes[j] =
                (level << 1) | (std::uint32_t{level != 0} & std::uint32_t{std::signbit(v[j])});
        });
    }
}

/// Unbiased rounding of y in [0, 1] onto the s + 1 uniform levels {0, 1/s, ..., 1}: level
/// floor(ys) + 1 with probability ys - floor(ys), from the slot's 32-bit random word.
struct uniform_level {
    std::uint32_t s;
    std::uint32_t operator()(double y, std::uint32_t word) const noexcept {
        // Written for GCC 12's vectoriser under -ftrapping-math: no std::floor (ys >= 0, so
        // truncation is floor) and no selects on floating-point compares.
        const double ys = y * static_cast<double>(s);
        const auto l = static_cast<std::int32_t>(ys);
        const std::uint32_t up = static_cast<double>(word) * 0x1p-32 < ys - l;
        return std::min(static_cast<std::uint32_t>(l) + up, s); // ys = s rounds to s
    }
};

/// Decodes (level << 1) | sign against the bucket's norm: +-norm level / s. A message with one
/// bucket and at most 256 levels has its magnitudes tabulated when the decoder is made, so the
/// per-element work is a lookup instead of a division (same arithmetic, same bits).
struct uniform_level_decoder {
    std::span<const float> norms;
    bucket_divider bucket;
    double levels;
    bool tabulated = false;
    std::array<float, 257> table{};

    uniform_level_decoder(std::span<const float> n, std::size_t b, double s) noexcept
        : norms(n), bucket(b), levels(s) {
        if (norms.size() == 1 && s <= 256) {
            tabulated = true;
            for (std::size_t l = 0; l <= static_cast<std::size_t>(s); ++l)
                table[l] = magnitude(0, static_cast<std::uint32_t>(l));
        }
    }

    float magnitude(std::size_t k, std::uint32_t level) const noexcept {
        return static_cast<float>(static_cast<double>(norms[k]) * static_cast<double>(level) /
                                  levels);
    }

    float operator()(std::size_t slot, std::uint32_t code) const noexcept {
        const float v = tabulated ? table[code >> 1] : magnitude(bucket(slot), code >> 1);
        return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) ^ (code << 31)); // the sign
    }
};

} // namespace commpress::detail

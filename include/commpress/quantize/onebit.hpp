// SPDX-License-Identifier: MIT
// quantize::onebit — 1-bit quantization with per-bucket, per-sign mean reconstruction.
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
#include <commpress/core/stage.hpp>

namespace commpress::quantize {

/// 1-bit SGD (Seide, Fu, Droppo, Li, Yu, Interspeech 2014; OPERATORS.md A.6). Per bucket of
/// `bucket` consecutive values (0 = the whole tensor): code 1 when the sign bit is set, else 0,
/// and two binary32 scales, the mean of the code-0 entries and the mean |x_i| of the code-1
/// entries (0 for an empty group); code c decodes to +scale0 or -scale1. Deterministic, biased.
///
/// Scales are magnitudes because the code carries the sign: a scale with its sign bit set is a
/// corrupt message (valid_scale), and C(x)_i keeps the sign bit of x_i (-0 decodes to -0).
/// Non-finite inputs propagate as in scaled_sign: a group holding a NaN sends NaN, one holding
/// +-inf sends inf. Finite doubles whose group mean exceeds FLT_MAX saturate at FLT_MAX.
///
/// alpha [D], exact means: in a bucket x_b of length b with groups P, N (sizes p, q), C(x_b) is
/// the orthogonal projection of x_b onto span{1_P, 1_N} (the coefficient that minimises the
/// error on a group is its mean). Pythagoras: ||C(x) - x||^2 = ||x||^2 - ||C(x)||^2, and
/// ||C(x_b)||^2 = S_P^2 / p + S_N^2 / q >= (S_P + S_N)^2 / b = ||x_b||_1^2 / b >= ||x_b||^2 / b
/// (S_G = sum of |x_i| over G; Cauchy-Schwarz twice). Summed over buckets, none longer than
/// min(bucket, m): ||C(x) - x||^2 <= (1 - 1 / min(bucket, m)) ||x||^2. Tight for a one-hot x
/// (the +0 entries share the hot entry's group). Never worse than scaled_sign on the same
/// bucket, whose output lies in the same subspace.
struct onebit {
    std::size_t bucket = 0; ///< entries per pair of means; 0 = one pair for the whole tensor

    static constexpr std::string_view name = "onebit";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = false; // code 0 is the mean of the positive group
    static constexpr bool every_code_valid = true;   ///< every code_bits()-bit pattern decodes

    /// A bucket above 2^32 - 1 (the most elements a message holds) would only be a second name
    /// for 0 with another fingerprint.
    void validate() const {
        if (bucket > std::numeric_limits<std::uint32_t>::max())
            commpress::detail::fail_parameter(
                "onebit: bucket must be 0 (the whole tensor) or at most 2^32 - 1, got " +
                std::to_string(bucket));
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(bucket); }
    std::string describe() const {
        return bucket ? "onebit(bucket=" + std::to_string(bucket) + ")" : std::string(name);
    }

    double alpha(std::size_t m) const noexcept {
        const std::size_t b = bucket ? std::min(bucket, m) : m;
        return b == 0 ? 1.0 : 1.0 / static_cast<double>(b);
    }
    unsigned code_bits() const noexcept { return 1; }
    std::size_t scale_count(std::size_t m) const noexcept {
        return 2 * commpress::detail::bucket_count(m, bucket);
    }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 1; }
    bool valid_scale(float s) const noexcept { return !std::signbit(s); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context&, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        const std::size_t m = v.size(), b = bucket ? std::min(bucket, m) : m;
        for (std::size_t start = 0, k = 0; start < m; start += b, ++k) {
            const std::size_t end = start + std::min(b, m - start);
            double sum[2] = {0, 0};
            std::size_t count[2] = {0, 0};
            bool inf[2] = {false, false};
            for (std::size_t j = start; j < end; ++j) {
                const unsigned c = std::signbit(v[j]) ? 1u : 0u;
                const double a = std::abs(static_cast<double>(v[j]));
                codes[j] = c;
                sum[c] += a;
                ++count[c];
                inf[c] |= std::isinf(a);
            }
            scales[2 * k] = mean(sum[0], count[0], inf[0]);
            scales[2 * k + 1] = mean(sum[1], count[1], inf[1]);
        }
    }

    struct decoder {
        std::span<const float> scales;
        commpress::detail::bucket_divider bucket;
        float operator()(std::size_t slot, std::uint32_t code) const noexcept {
            const float s = scales[2 * bucket(slot) + code];
            return std::bit_cast<float>(std::bit_cast<std::uint32_t>(s) ^ (code << 31)); // -s
        }
    };
    decoder dequantizer(std::span<const float> scales) const noexcept { return {scales, bucket}; }

  private:
    /// The binary32 scale of a group: its mean magnitude, rounded to nearest.
    static float mean(double sum, std::size_t count, bool inf) noexcept {
        if (count == 0)
            return 0.0f;
        const double mu = sum / static_cast<double>(count);
        if (std::isnan(mu))
            return std::numeric_limits<float>::quiet_NaN(); // sign bit clear, whatever the input's
        if (inf)
            return std::numeric_limits<float>::infinity();
        return static_cast<float>(std::min<double>(mu, std::numeric_limits<float>::max()));
    }
};

} // namespace commpress::quantize

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
#include <commpress/kernels/reduce.hpp>

namespace commpress::quantize {

/// 1-bit SGD (Seide, Fu, Droppo, Li, Yu, Interspeech 2014; OPERATORS.md A.6). Per bucket of
/// `bucket` consecutive values (0 = the whole tensor): code 1 when the sign bit is set, else 0,
/// and two binary32 scales, the mean of the code-0 entries and the mean |x_i| of the code-1
/// entries (0 for an empty group); code c decodes to +scale0 or -scale1. Deterministic, biased.
/// Each group's sum is taken in double in the fixed 16-lane order of kernels/reduce.hpp.
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
        using U = kernels::detail::bits_t<T>;
        constexpr U inf_bits = std::bit_cast<U>(std::numeric_limits<T>::infinity());
        const std::size_t m = v.size(), b = bucket ? std::min(bucket, m) : m;
        for (std::size_t start = 0, k = 0; start < m; start += b, ++k) {
            const std::size_t len = std::min(b, m - start);
            const group_sums_t<T> g = sums(v.data() + start, len, codes.data() + start);
            scales[2 * k] = mean(g.sum[0], len - g.negative, g.top[0] >= inf_bits);
            scales[2 * k + 1] = mean(g.sum[1], g.negative, g.top[1] >= inf_bits);
        }
    }

    struct decoder {
        std::span<const float> scales;
        commpress::detail::bucket_divider bucket;
        std::size_t size; // entries per bucket, 0 = one bucket
        float operator()(std::size_t slot, std::uint32_t code) const noexcept {
            const float s = scales[2 * bucket(slot) + code];
            return std::bit_cast<float>(std::bit_cast<std::uint32_t>(s) ^ (code << 31)); // -s
        }
        /// Bucket by bucket: two constants per run, an integer select per entry (vectorises).
        void block(std::size_t first, std::span<const std::uint32_t> codes,
                   float* out) const noexcept {
            for (std::size_t i = 0; i < codes.size();) {
                const std::size_t k = bucket(first + i);
                const std::size_t end =
                    size ? std::min(codes.size(), (k + 1) * size - first) : codes.size();
                const std::uint32_t pos = std::bit_cast<std::uint32_t>(scales[2 * k]);
                const std::uint32_t neg =
                    std::bit_cast<std::uint32_t>(scales[2 * k + 1]) ^ (1u << 31);
                for (; i < end; ++i) {
                    const std::uint32_t is_neg = 0u - codes[i];
                    out[i] = std::bit_cast<float>((pos & ~is_neg) | (neg & is_neg));
                }
            }
        }
    };
    decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales, bucket, bucket};
    }

  private:
    template <class U>
    struct group_sums_of {
        double sum[2];        ///< sum |x_i| over the code-0 and the code-1 entries
        std::size_t negative; ///< code-1 entries
        U top[2];             ///< largest magnitude bit pattern of each group
    };
    template <class T>
    using group_sums_t = group_sums_of<kernels::detail::bits_t<T>>;

    /// Codes, and the sums of each group in kernels::detail::virtual_width_sum's fixed order
    /// (16 lanes, a fixed tree; the other group's entries add +0): the sums enter the message,
    /// so they must not depend on the SIMD width, and a sequential sum does not vectorise.
    template <class T>
    static group_sums_t<T> sums(const T* x, std::size_t len, std::uint32_t* out) noexcept {
        using U = kernels::detail::bits_t<T>;
        constexpr U mag = ~U{0} >> 1;
        constexpr unsigned sign = 8 * sizeof(U) - 1;
        constexpr std::size_t w = 16;
        double lane0[w] = {}, lane1[w] = {};
        std::size_t negative = 0;
        U top0 = 0, top1 = 0;
        // Integer masks on the bit patterns pick the group: no selects on float compares.
        const auto add = [&](std::size_t j, std::size_t l) {
            const U u = std::bit_cast<U>(x[j]);
            const U c = u >> sign, a0 = u & mag & (c - 1), a1 = u & mag & (U{0} - c);
            out[j] = static_cast<std::uint32_t>(c);
            negative += static_cast<std::size_t>(c);
            lane0[l] += static_cast<double>(std::bit_cast<T>(a0));
            lane1[l] += static_cast<double>(std::bit_cast<T>(a1));
            top0 = a0 > top0 ? a0 : top0;
            top1 = a1 > top1 ? a1 : top1;
        };
        const std::size_t body = len - len % w;
        for (std::size_t i = 0; i < body; i += w)
            for (std::size_t l = 0; l < w; ++l)
                add(i + l, l);
        for (std::size_t i = body; i < len; ++i)
            add(i, i - body);
        for (std::size_t half = w / 2; half > 0; half /= 2)
            for (std::size_t l = 0; l < half; ++l) {
                lane0[l] += lane0[l + half];
                lane1[l] += lane1[l + half];
            }
        return {{lane0[0], lane1[0]}, negative, {top0, top1}};
    }

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

// SPDX-License-Identifier: MIT
// quantize::qsgd — stochastic rounding of |x_i| / ||x||_2 onto s uniform levels.
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

namespace commpress::quantize {

/// QSGD (Alistarh et al., NeurIPS 2017; OPERATORS.md A.8): per bucket, send the 2-norm and for
/// each entry a sign and a level l in [0, s], E[l] = s|x_i| / ||x||. Unbiased with
/// omega = min(d/s^2, sqrt(d)/s), d the bucket length; E nnz <= s(s + sqrt d).
/// Code: (level << 1) | sign, 1 + ceil(log2(s + 1)) bits; code 0 is the value 0.
/// A bucket holding inf or NaN sends its norm (inf or NaN) and level 1 with each entry's sign, so
/// it decodes to +-inf or NaN with every encoder: divergence stays visible, code 0 stays the
/// value 0. A finite bucket whose norm overflows binary32 sends FLT_MAX instead (still unbiased
/// for float inputs).
struct qsgd {
    std::uint32_t levels = 16; ///< s in the paper
    std::size_t bucket = 0;    ///< entries per norm; 0 = one norm for the whole tensor

    static constexpr std::string_view name = "qsgd";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = true;
    static constexpr std::uint32_t max_levels = 1u << 24;

    void validate() const {
        if (levels == 0 || levels > max_levels)
            detail::fail_parameter("qsgd: levels must be in [1, 2^24], got " +
                                   std::to_string(levels));
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(levels)(bucket); }
    std::string describe() const {
        return "qsgd(levels=" + std::to_string(levels) +
               (bucket ? ", bucket=" + std::to_string(bucket) : std::string()) + ")";
    }

    double omega(std::size_t m) const noexcept {
        const double d = static_cast<double>(bucket ? std::min(bucket, m) : m), s = levels;
        return std::min(d / (s * s), std::sqrt(d) / s);
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
        commpress::detail::dither(v, c, scales, codes, bucket, norm_kind::l2,
                                  commpress::detail::uniform_level{levels});
    }

    using decoder = commpress::detail::uniform_level_decoder;
    decoder dequantizer(std::span<const float> scales) const noexcept {
        return decoder(scales, bucket, static_cast<double>(levels));
    }
};

} // namespace commpress::quantize

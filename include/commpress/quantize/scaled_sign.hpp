// SPDX-License-Identifier: MIT
// quantize::scaled_sign — (||x||_1 / d) sign(x), one bit per entry.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/kernels/reduce.hpp>

namespace commpress::quantize {

/// Scaled sign (EF-signSGD, Karimireddy et al., ICML 2019; OPERATORS.md A.6), per tensor:
/// C(x) = (||x||_1 / d) sign(x). ||C(x) - x||^2 = ||x||^2 - ||x||_1^2 / d exactly, so it is a
/// deterministic contraction with alpha = 1/d in the worst case (a one-hot x).
/// The code is the sign bit (1 = negative): +0.0 maps to +scale, -0.0 to -scale; NaN inputs make
/// the scale NaN. d + 32 bits.
struct scaled_sign {
    static constexpr std::string_view name = "scaled_sign";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = false;
    static constexpr bool every_code_valid = true; ///< every code_bits()-bit pattern decodes

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    double alpha(std::size_t m) const noexcept {
        return m == 0 ? 1.0 : 1.0 / static_cast<double>(m);
    }
    unsigned code_bits() const noexcept { return 1; }
    std::size_t scale_count(std::size_t m) const noexcept { return m == 0 ? 0 : 1; }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 1; }
    bool valid_scale(float s) const noexcept { return !(s < 0.0f); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context&, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        if (v.empty())
            return;
        scales[0] = static_cast<float>(kernels::sum_abs(v) / static_cast<double>(v.size()));
        for (std::size_t j = 0; j < v.size(); ++j)
            codes[j] = std::signbit(v[j]) ? 1u : 0u;
    }

    struct decoder {
        float scale;
        float operator()(std::size_t, std::uint32_t code) const noexcept {
            return code ? -scale : scale;
        }
    };
    decoder dequantizer(std::span<const float> scales) const noexcept {
        return {scales.empty() ? 0.0f : scales[0]};
    }
};

} // namespace commpress::quantize

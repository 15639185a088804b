// SPDX-License-Identifier: MIT
// quantize::fp16, bf16 (round to nearest even) and fp16_sr, bf16_sr (stochastic rounding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/kernels/arch.hpp>
#include <commpress/kernels/half.hpp>

namespace commpress::quantize {

using kernels::rounding;
enum class half_format : std::uint8_t { binary16, bfloat16 };

/// 16-bit floating point codes (OPERATORS.md A.12), u = 2^-11 (fp16) or 2^-8 (bf16):
/// - nearest even: deterministic, |fl(t) - t| <= u|t| in the normal range, so alpha = 1 - u^2;
/// - stochastic: rounds to a neighbour with probability proportional to closeness, unbiased with
///   omega = u^2 in the normal range.
/// Outside the normal range (fp16: |t| > 65504 overflows to inf, |t| < 2^-14 loses bits) the
/// constants do not hold; bf16 has binary32's range. Double inputs are first rounded to binary32.
template <half_format F, rounding R>
struct basic_half {
    static constexpr std::string_view name =
        F == half_format::binary16 ? (R == rounding::nearest_even ? "fp16" : "fp16_sr")
                                   : (R == rounding::nearest_even ? "bf16" : "bf16_sr");
    static constexpr bool unbiased = R == rounding::stochastic;
    static constexpr bool zero_code_is_zero = true; // +0.0 is code 0
    static constexpr bool every_code_valid = true;  ///< every code_bits()-bit pattern decodes
    static constexpr double unit_roundoff = F == half_format::binary16 ? 0x1p-11 : 0x1p-8;

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    double alpha(std::size_t) const noexcept requires(R == rounding::nearest_even) {
        return 1.0 - unit_roundoff * unit_roundoff;
    }
    double omega(std::size_t) const noexcept requires(R == rounding::stochastic) {
        return unit_roundoff * unit_roundoff;
    }

    unsigned code_bits() const noexcept { return 16; }
    std::size_t scale_count(std::size_t) const noexcept { return 0; }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 0xffffu; }
    bool valid_scale(float) const noexcept { return true; }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float>,
                  std::span<std::uint32_t> codes) const noexcept {
        if constexpr (R == rounding::stochastic) {
            slot_stream rng(c, purpose::quantize);
            rng.for_each(0, v.size(), [&](std::size_t j, std::uint32_t word) {
                codes[j] = convert(static_cast<float>(v[j]), word);
            });
        } else if constexpr (F == half_format::binary16 && std::is_same_v<T, float>) {
            kernels::to_binary16_rne(kernels::arch{}, v, codes);
        } else {
            for (std::size_t j = 0; j < v.size(); ++j)
                codes[j] = convert(static_cast<float>(v[j]), 0);
        }
    }

    struct decoder {
        float operator()(std::size_t, std::uint32_t code) const noexcept {
            const auto h = static_cast<std::uint16_t>(code);
            if constexpr (F == half_format::binary16)
                return kernels::from_binary16(kernels::arch{}, h);
            else
                return kernels::from_bfloat16(h);
        }
        void block(std::size_t, std::span<const std::uint32_t> codes, float* out) const noexcept
            requires(F == half_format::binary16) {
            kernels::from_binary16(kernels::arch{}, codes, out);
        }
    };
    decoder dequantizer(std::span<const float>) const noexcept { return {}; }

  private:
    static std::uint16_t convert(float f, std::uint32_t r) noexcept {
        if constexpr (F == half_format::binary16)
            return kernels::to_binary16<R>(f, r);
        else
            return kernels::to_bfloat16<R>(f, r);
    }
};

using fp16 = basic_half<half_format::binary16, rounding::nearest_even>;
using fp16_sr = basic_half<half_format::binary16, rounding::stochastic>;
using bf16 = basic_half<half_format::bfloat16, rounding::nearest_even>;
using bf16_sr = basic_half<half_format::bfloat16, rounding::stochastic>;

} // namespace commpress::quantize

// SPDX-License-Identifier: MIT
// quantize::natural — natural compression C_nat: unbiased stochastic rounding to a power of two.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>

namespace commpress::quantize {

/// Natural compression (Horváth et al., arXiv 1905.10988; OPERATORS.md A.9): per entry t != 0,
/// with a = 2^floor(log2 |t|), send sign(t) 2a with probability (|t| - a) / a, else sign(t) a;
/// C(0) = 0. Unbiased with omega = 1/8 (Var / t^2 = p (1 - p) / (1 + p)^2 for |t| = a (1 + p),
/// largest at |t| = (4/3) a). No scales.
///
/// Bit level, on the binary32 pattern of t (sign s, exponent field e, 23-bit mantissa f): keep
/// s and e, and add 1 to e iff the top 23 bits of slot j's random word are < f, which happens
/// with probability exactly f / 2^23 = (|t| - a) / a. Code: (e' << 1) | s, 9 bits.
///
/// Edge cases, all by design:
/// - +0 and -0 send code 0, which decodes to +0 (the sign of a zero is dropped).
/// - Subnormals (e = 0, f != 0): the same rule rounds |t| = (f / 2^23) 2^-126 up to 2^-126 with
///   probability |t| / 2^-126, else to 0: still unbiased, but Var / t^2 = (1 - p) / p with
///   p = |t| / 2^-126 is unbounded, so omega = 1/8 holds only for inputs that are 0 or normal.
///   A subnormal rounded to 0 sends code 0 (+0) whatever its sign.
/// - Overflow: for |t| in (2^127, FLT_MAX] rounding up gives e' = 255, i.e. +-inf, with
///   probability (|t| - 2^127) / 2^127 (the expectation is then infinite: not unbiased there).
///   |t| = 2^127 exactly never rounds up.
/// - +-inf send e = 255 and decode to +-inf.
/// - NaN (any payload, any sign) sends code 1, the "negative zero" pattern that no number uses,
///   and decodes to a quiet NaN: divergence stays visible instead of turning into inf.
///   So every 9-bit code is produced by some input and is valid; codes >= 2^9 are rejected.
/// - double inputs are first rounded to binary32 (nearest even, as fp16 does); the operator is
///   unbiased for that float. Doubles beyond binary32's range become +-inf or 0 / subnormal.
/// Code 0 is the value 0, so Elias coding skips zero runs.
struct natural {
    static constexpr std::string_view name = "natural";
    static constexpr bool unbiased = true;
    static constexpr bool zero_code_is_zero = true;
    static constexpr bool every_code_valid = true; ///< every code_bits()-bit pattern decodes
    static constexpr std::uint32_t nan_code = 1;

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    double omega(std::size_t) const noexcept { return 0.125; }
    unsigned code_bits() const noexcept { return 9; }
    std::size_t scale_count(std::size_t) const noexcept { return 0; }
    bool valid_code(std::uint32_t c) const noexcept { return c < (1u << 9); }
    bool valid_scale(float) const noexcept { return true; }

    /// The code of one binary32 value given its 32-bit random word.
    static std::uint32_t encode_one(float t, std::uint32_t word) noexcept {
        const std::uint32_t u = std::bit_cast<std::uint32_t>(t);
        const std::uint32_t sign = u >> 31, e = (u >> 23) & 0xffu, f = u & 0x7f'ffffu;
        const std::uint32_t up = (word >> 9) < f && e != 0xffu ? 1u : 0u; // P = f / 2^23
        const std::uint32_t e2 = e + up;                                  // 255 = +-inf on overflow
        const std::uint32_t code = e2 == 0 ? 0u : (e2 << 1) | sign;
        return e == 0xffu && f != 0 ? nan_code : code; // NaN; +-inf keep e = 255
    }

    /// The value of a code.
    static float decode_one(std::uint32_t code) noexcept {
        if (code == nan_code)
            return std::numeric_limits<float>::quiet_NaN();
        return std::bit_cast<float>(((code & 1u) << 31) | ((code >> 1) << 23));
    }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float>,
                  std::span<std::uint32_t> codes) const noexcept {
        slot_stream rng(c, purpose::quantize);
        rng.for_each(0, v.size(), [&](std::size_t j, std::uint32_t word) {
            codes[j] = encode_one(static_cast<float>(v[j]), word);
        });
    }

    struct decoder {
        float operator()(std::size_t, std::uint32_t code) const noexcept {
            return decode_one(code);
        }
    };
    decoder dequantizer(std::span<const float>) const noexcept { return {}; }
};

} // namespace commpress::quantize

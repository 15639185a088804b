// SPDX-License-Identifier: MIT
// binary32 <-> binary16 / bfloat16 conversion, round-to-nearest-even or stochastic, bit exact.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include <xsimd/config/xsimd_arch.hpp>
#ifdef __F16C__
#include <immintrin.h>
#endif

namespace commpress::kernels {

enum class rounding : std::uint8_t { nearest_even, stochastic };

namespace detail {

/// Rounds an integer magnitude m shifted right by s bits. Nearest-even, or up with probability
/// (m mod 2^s) / 2^s using the 32-bit random word r (exact for s <= 32, within 2^-32 above).
template <rounding R>
constexpr std::uint32_t shift_round(std::uint64_t m, unsigned s, std::uint32_t r) noexcept {
    if (s >= 64)
        return 0;
    const std::uint64_t base = m >> s;
    const std::uint64_t rem = m & ((std::uint64_t{1} << s) - 1);
    bool up;
    if constexpr (R == rounding::nearest_even) {
        const std::uint64_t half = std::uint64_t{1} << (s - 1);
        up = rem > half || (rem == half && (base & 1));
    } else {
        up = s <= 32 ? (std::uint64_t{r} >> (32 - s)) < rem : (std::uint64_t{r} << (s - 32)) < rem;
    }
    return static_cast<std::uint32_t>(base + (up ? 1 : 0));
}

} // namespace detail

/// float -> binary16. Overflow goes to +-inf (as IEEE round-to-nearest does), a NaN becomes a
/// quiet NaN keeping the top 9 bits of its payload (as F16C does), values below half the smallest
/// subnormal go to +-0 (stochastically: rarely up).
template <rounding R>
constexpr std::uint16_t to_binary16(float f, std::uint32_t r = 0) noexcept {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    const std::uint32_t a = b & 0x7fff'ffffu;
    if (a >= 0x7f80'0000u) // inf or NaN
        return static_cast<std::uint16_t>(
            sign | (a > 0x7f80'0000u ? 0x7e00u | ((a >> 13) & 0x3ffu) : 0x7c00u));
    if (a >= 0x4780'0000u) // >= 2^16: beyond every rounding of the largest finite half
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    const std::uint32_t e = a >> 23;
    std::uint32_t h;
    if (e >= 113) { // normal half: rebase the exponent and drop 13 mantissa bits; a carry out of
                    // the mantissa correctly bumps the exponent (up to inf)
        h = detail::shift_round<R>(a - (112u << 23), 13, r);
    } else { // subnormal half (units of 2^-24): value = M * 2^(e - 126)
        const std::uint32_t mant = a & 0x7f'ffffu;
        const std::uint64_t m = e == 0 ? mant : (mant | 0x80'0000u);
        const unsigned s = 126 - (e == 0 ? 1 : e);
        h = detail::shift_round<R>(m, s, r);
    }
    return static_cast<std::uint16_t>(sign | h);
}

/// binary16 -> float (exact; a NaN becomes a quiet NaN with the same payload, as F16C does).
constexpr float from_binary16(std::uint16_t h) noexcept {
    const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
    const std::uint32_t e = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (e == 0) {
        const float v = static_cast<float>(mant) * 0x1p-24f; // subnormal or zero: exact
        return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) | sign);
    }
    if (e == 31)
        return std::bit_cast<float>(sign | 0x7f80'0000u | (mant ? 0x40'0000u : 0u) | (mant << 13));
    return std::bit_cast<float>(sign | ((e + 112) << 23) | (mant << 13));
}

namespace detail {
/// Every AVX2 processor has F16C: with the flag on, such architectures convert in hardware.
template <class Arch>
inline constexpr bool f16c = Arch::version() >= xsimd::avx2::version();
} // namespace detail

/// binary16 -> float, in hardware where Arch has F16C; bit-identical to from_binary16(h).
template <class Arch>
float from_binary16(Arch, std::uint16_t h) noexcept {
#ifdef __F16C__
    if constexpr (detail::f16c<Arch>)
        return _cvtsh_ss(h);
#endif
    return from_binary16(h);
}

/// out[j] = from_binary16(codes[j]) for codes below 2^16, eight at a time in hardware where Arch
/// has F16C.
template <class Arch>
void from_binary16(Arch a, std::span<const std::uint32_t> codes, float* out) noexcept {
    std::size_t j = 0;
#if defined(__F16C__) && defined(__AVX2__)
    if constexpr (detail::f16c<Arch>) {
        for (; j + 8 <= codes.size(); j += 8) {
            const __m256i c =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes.data() + j));
            const __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(c), // no saturation: < 2^16
                                               _mm256_extracti128_si256(c, 1));
            _mm256_storeu_ps(out + j, _mm256_cvtph_ps(h));
        }
    }
#endif
    for (; j < codes.size(); ++j)
        out[j] = from_binary16(a, static_cast<std::uint16_t>(codes[j]));
}

/// codes[j] = to_binary16<nearest_even>(x[j]), eight at a time in hardware where Arch has F16C.
template <class Arch>
void to_binary16_rne(Arch, std::span<const float> x, std::span<std::uint32_t> codes) noexcept {
    std::size_t j = 0;
#if defined(__F16C__) && defined(__AVX2__)
    if constexpr (detail::f16c<Arch>) {
        for (; j + 8 <= x.size(); j += 8) {
            const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x.data() + j),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes.data() + j),
                                _mm256_cvtepu16_epi32(h));
        }
    }
#endif
    for (; j < x.size(); ++j)
        codes[j] = to_binary16<rounding::nearest_even>(x[j]);
}

/// float -> bfloat16 (the upper half of binary32). NaN stays a quiet NaN.
template <rounding R>
constexpr std::uint16_t to_bfloat16(float f, std::uint32_t r = 0) noexcept {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    if ((b & 0x7fff'ffffu) > 0x7f80'0000u)
        return static_cast<std::uint16_t>((b >> 16) | 0x40u);
    // Adding to the magnitude bits cannot carry into the sign: the largest sum is 0x7f80ffff.
    if constexpr (R == rounding::nearest_even)
        return static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
    else
        return static_cast<std::uint16_t>((b + (r >> 16)) >> 16);
}

/// bfloat16 -> float (exact).
constexpr float from_bfloat16(std::uint16_t h) noexcept {
    return std::bit_cast<float>(std::uint32_t{h} << 16);
}

} // namespace commpress::kernels

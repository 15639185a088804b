// SPDX-License-Identifier: MIT
// Fixed-width bit packing of codes: the bulk form of bit_writer::put / bit_reader::get.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

namespace commpress::kernels {

/// Bytes that m codes of `width` bits take.
constexpr std::size_t packed_bytes(std::size_t m, unsigned width) noexcept {
    return (m * width + 7) / 8;
}

namespace detail {

__extension__ using uint128 = unsigned __int128;

// The wire layout is scalar-first (code j in bits [j w, (j + 1) w), least significant bit
// first, little-endian bytes), never the vector width. Eight codes fill exactly `width` bytes,
// so groups of eight are independent: the compiler unrolls and vectorises them.

template <class Arch, unsigned W>
void pack_group(Arch, const std::uint32_t* c, std::byte* out) noexcept {
    if constexpr (W <= 16) { // eight codes in one 64- or 128-bit accumulator
        using acc_t = std::conditional_t<W <= 8, std::uint64_t, uint128>;
        acc_t acc = 0;
        for (unsigned t = 0; t < 8; ++t)
            acc |= acc_t{c[t]} << (t * W);
        std::memcpy(out, &acc, W);
    } else { // two halves of four codes (4W bits each), the second shifted into place
        uint128 lo = 0, hi = 0;
        for (unsigned t = 0; t < 4; ++t) {
            lo |= uint128{c[t]} << (t * W);
            hi |= uint128{c[t + 4]} << (t * W);
        }
        constexpr unsigned half = 4 * W; // 17 <= W <= 31 (32 is a plain copy): half < 128
        const uint128 first = lo | (hi << half);
        std::memcpy(out, &first, 16);
        const uint128 rest = hi >> (128 - half);
        std::memcpy(out + 16, &rest, W - 16);
    }
}

/// Window: a whole 8- (W <= 8) or 16-byte (W <= 16) load is in bounds; one load, not W bytes.
template <class Arch, unsigned W, bool Window = false>
void unpack_group(Arch, const std::byte* in, std::uint32_t* c) noexcept {
    constexpr std::uint32_t mask = W == 32 ? ~0u : (1u << W) - 1;
    if constexpr (W <= 16) {
        using acc_t = std::conditional_t<W <= 8, std::uint64_t, uint128>;
        acc_t acc = 0;
        std::memcpy(&acc, in, Window ? sizeof(acc_t) : W);
        for (unsigned t = 0; t < 8; ++t)
            c[t] = static_cast<std::uint32_t>(acc >> (t * W)) & mask;
    } else {
        uint128 first = 0, rest = 0;
        std::memcpy(&first, in, 16);
        std::memcpy(&rest, in + 16, W - 16);
        constexpr unsigned half = 4 * W;
        const uint128 hi = (first >> half) | (rest << (128 - half));
        for (unsigned t = 0; t < 4; ++t) {
            c[t] = static_cast<std::uint32_t>(first >> (t * W)) & mask;
            c[t + 4] = static_cast<std::uint32_t>(hi >> (t * W)) & mask;
        }
    }
}

template <class Arch, unsigned W>
void pack_width(Arch a, std::span<const std::uint32_t> c, std::byte* out) noexcept {
    const std::size_t groups = c.size() / 8, rest = c.size() % 8;
    if constexpr (W == 8 || W == 16 || W == 32) { // whole bytes: a narrowing copy
        using U = std::conditional_t<W == 8, std::uint8_t,
                                     std::conditional_t<W == 16, std::uint16_t, std::uint32_t>>;
        for (std::size_t j = 0; j < c.size(); ++j) {
            const auto v = static_cast<U>(c[j]);
            std::memcpy(out + j * sizeof(U), &v, sizeof(U));
        }
    } else if constexpr (W < 8 && 8 % W == 0) { // 1, 2, 4: whole codes per byte (vectorises)
        constexpr std::size_t per = 8 / W;
        const std::size_t full = c.size() / per, rest_codes = c.size() % per;
        const auto pack_byte = [&](std::size_t b, std::size_t k) {
            std::uint32_t v = 0;
            for (std::size_t t = 0; t < k; ++t)
                v |= c[b * per + t] << (t * W);
            out[b] = static_cast<std::byte>(v);
        };
        for (std::size_t b = 0; b < full; ++b)
            pack_byte(b, per);
        if (rest_codes) // a partial last byte
            pack_byte(full, rest_codes);
    } else {
        for (std::size_t g = 0; g < groups; ++g)
            pack_group<Arch, W>(a, c.data() + 8 * g, out + W * g);
        if (rest) { // pad the last group with zero codes, keep the bytes that hold real ones
            std::uint32_t tail[8] = {};
            std::byte bytes[32];
            std::copy_n(c.data() + 8 * groups, rest, tail);
            pack_group<Arch, W>(a, tail, bytes);
            std::memcpy(out + W * groups, bytes, packed_bytes(rest, W));
        }
    }
}

template <class Arch, unsigned W>
void unpack_width(Arch a, const std::byte* in, std::span<std::uint32_t> c) noexcept {
    const std::size_t groups = c.size() / 8, rest = c.size() % 8;
    if constexpr (W == 8 || W == 16 || W == 32) { // whole bytes: a widening copy
        using U = std::conditional_t<W == 8, std::uint8_t,
                                     std::conditional_t<W == 16, std::uint16_t, std::uint32_t>>;
        for (std::size_t j = 0; j < c.size(); ++j) {
            U v;
            std::memcpy(&v, in + j * sizeof(U), sizeof(U));
            c[j] = v;
        }
    } else if constexpr (W < 8 && 8 % W == 0) {
        // 1, 2, 4: each word holds whole codes, each a constant shift of the word. The word
        // size is the one GCC 12 vectorises best for that width (measured: 0.6-1.0 ms per 2^24
        // codes, 5x the alternatives).
        using U = std::conditional_t<W == 1, std::uint32_t,
                                     std::conditional_t<W == 2, std::uint64_t, std::uint8_t>>;
        constexpr std::size_t per = 8 * sizeof(U) / W;
        constexpr std::uint32_t mask = (1u << W) - 1;
        const std::size_t words = c.size() / per;
        for (std::size_t k = 0; k < words; ++k) {
            U w;
            std::memcpy(&w, in + sizeof(U) * k, sizeof(U));
            for (std::size_t t = 0; t < per; ++t)
                c[k * per + t] = static_cast<std::uint32_t>(w >> (t * W)) & mask;
        }
        for (std::size_t j = words * per; j < c.size(); ++j)
            c[j] = (std::to_integer<std::uint32_t>(in[j * W / 8]) >> (j * W % 8)) & mask;
    } else {
        std::size_t g = 0;
        if constexpr (W <= 16) { // groups whose whole window lies inside the input
            constexpr std::size_t window = W <= 8 ? 8 : 16;
            const std::size_t bytes = packed_bytes(c.size(), W);
            for (; g < groups && W * g + window <= bytes; ++g)
                unpack_group<Arch, W, true>(a, in + W * g, c.data() + 8 * g);
        }
        for (; g < groups; ++g)
            unpack_group<Arch, W>(a, in + W * g, c.data() + 8 * g);
        if (rest) {
            std::byte bytes[32] = {};
            std::uint32_t tail[8];
            std::memcpy(bytes, in + W * groups, packed_bytes(rest, W));
            unpack_group<Arch, W>(a, bytes, tail);
            std::copy_n(tail, rest, c.data() + 8 * groups);
        }
    }
}

/// Calls f(std::integral_constant<unsigned, W>) for the run-time width w in [1, 32]: one
/// specialised loop per width, chosen once per call.
template <class F>
void with_width(unsigned w, F f) noexcept {
    [&]<unsigned... I>(std::integer_sequence<unsigned, I...>) {
        ((w == I + 1 ? (f(std::integral_constant<unsigned, I + 1>{}), 0) : 0), ...);
    }
    (std::make_integer_sequence<unsigned, 32>{});
}

} // namespace detail

/// Packs codes (each below 2^width, 1 <= width <= 32) into packed_bytes(codes.size(), width)
/// bytes: exactly what bit_writer::put(code, width) writes from a byte boundary, unused bits of
/// the last byte zero.
struct pack_fn {
    template <class Arch>
    void operator()(Arch a, std::span<const std::uint32_t> codes, unsigned width,
                    std::span<std::byte> out) const noexcept {
        static_assert(std::endian::native == std::endian::little,
                      "the kernels assume little-endian");
        detail::with_width(width,
                           [&](auto w) { detail::pack_width<Arch, w()>(a, codes, out.data()); });
    }
};
inline constexpr pack_fn pack{};

/// Unpacks codes.size() codes of `width` bits (1 <= width <= 32) from the packed_bytes(...,
/// width) bytes `in`: the inverse of pack, what bit_reader::get(width) reads.
struct unpack_fn {
    template <class Arch>
    void operator()(Arch a, std::span<const std::byte> in, unsigned width,
                    std::span<std::uint32_t> codes) const noexcept {
        static_assert(std::endian::native == std::endian::little,
                      "the kernels assume little-endian");
        detail::with_width(width,
                           [&](auto w) { detail::unpack_width<Arch, w()>(a, in.data(), codes); });
    }
};
inline constexpr unpack_fn unpack{};

} // namespace commpress::kernels

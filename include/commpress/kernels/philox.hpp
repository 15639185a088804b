// SPDX-License-Identifier: MIT
// Many Philox4x32-10 blocks at once: the same function as Random123's, laid out so that the
// compiler runs one block per vector lane.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace commpress::kernels {

/// Words 4b .. 4b + 3 of `out` are Philox4x32-10 of counter (first + b, ctr2, ctr3) under `key`
/// (the 64-bit block index fills counter words 0 and 1): bit-identical to r123::Philox4x32.
/// out.size() must be a multiple of 4.
struct philox_blocks_fn {
    template <class Arch>
    void operator()(Arch, std::array<std::uint32_t, 2> key, std::uint32_t ctr2, std::uint32_t ctr3,
                    std::uint64_t first, std::span<std::uint32_t> out) const noexcept {
        constexpr std::size_t lanes = 16; // blocks per pass: structure of arrays, one per lane
        constexpr std::uint64_t lo32 = 0xffff'ffffu;
        const std::size_t blocks = out.size() / 4;
        for (std::size_t b0 = 0; b0 < blocks; b0 += lanes) {
            // 32-bit words held in 64-bit lanes: the products are then 32 x 32 -> 64-bit
            // multiplies of the low halves, which every x86 vector unit has (pmuludq).
            std::uint64_t x0[lanes], x1[lanes], x2[lanes], x3[lanes];
            for (std::size_t l = 0; l < lanes; ++l) {
                const std::uint64_t c = first + b0 + l;
                x0[l] = c & lo32;
                x1[l] = c >> 32;
                x2[l] = ctr2;
                x3[l] = ctr3;
            }
            std::uint64_t k0 = key[0], k1 = key[1];
            // Multipliers the compiler cannot see: GCC 12 turns a multiply by a known constant
            // into shifts and adds on AVX2 (no 64-bit vector multiply), 22% slower than pmuludq.
            std::uint64_t m0 = 0xD251'1F53u, m1 = 0xCD9E'8D57u;
#if defined(__GNUC__)
            asm("" : "+r"(m0), "+r"(m1));
#endif
            for (int round = 0; round < 10; ++round) {
                for (std::size_t l = 0; l < lanes; ++l) {
                    const std::uint64_t p0 = (x0[l] & lo32) * (m0 & lo32);
                    const std::uint64_t p1 = (x2[l] & lo32) * (m1 & lo32);
                    x0[l] = (p1 >> 32) ^ x1[l] ^ k0;
                    x2[l] = (p0 >> 32) ^ x3[l] ^ k1;
                    x1[l] = p1 & lo32;
                    x3[l] = p0 & lo32;
                }
                k0 = (k0 + 0x9E37'79B9u) & lo32; // the key schedule (Weyl sequence)
                k1 = (k1 + 0xBB67'AE85u) & lo32;
            }
            const std::size_t n = blocks - b0 < lanes ? blocks - b0 : lanes;
            for (std::size_t l = 0; l < n; ++l) {
                std::uint32_t* o = out.data() + 4 * (b0 + l);
                o[0] = static_cast<std::uint32_t>(x0[l]);
                o[1] = static_cast<std::uint32_t>(x1[l]);
                o[2] = static_cast<std::uint32_t>(x2[l]);
                o[3] = static_cast<std::uint32_t>(x3[l]);
            }
        }
    }
};
inline constexpr philox_blocks_fn philox_blocks{};

} // namespace commpress::kernels

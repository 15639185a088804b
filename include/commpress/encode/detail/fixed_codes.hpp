// SPDX-License-Identifier: MIT
// Codes of one width with no indices between them (dense and implicit layouts), from a byte
// boundary: whole blocks through the pack kernels instead of one bit-stream call per code.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include <commpress/core/bitstream.hpp>
#include <commpress/kernels/bitpack.hpp>

namespace commpress::encode::detail {

/// Codes unpacked per block: small enough for the stack and L1, a multiple of 8 so that every
/// block starts on a byte.
inline constexpr std::size_t code_block = 512;

template <class Arch>
void encode_fixed(Arch a, std::span<const std::uint32_t> codes, unsigned width,
                  bit_writer& w) noexcept {
    w.aligned_bytes(codes.size() * width,
                    [&](std::span<std::byte> out) { kernels::pack(a, codes, width, out); });
}

/// sink(j, j, code_j) for j < m, block by block (sink.block(first, codes) if the sink has it).
/// Raises decode_error if the stream is short.
template <class Arch, class Sink>
void decode_fixed(Arch a, std::size_t m, unsigned width, bit_reader& r, Sink& sink) {
    const std::span<const std::byte> bytes = r.aligned_bytes(std::uint64_t{m} * width);
    std::uint32_t block[code_block];
    for (std::size_t start = 0; start < m; start += code_block) {
        const std::size_t len = std::min(code_block, m - start);
        kernels::unpack(a, bytes.subspan(start * width / 8), width, std::span(block, len));
        if constexpr (requires { sink.block(start, std::span<const std::uint32_t>(block, len)); })
            sink.block(start, std::span<const std::uint32_t>(block, len));
        else
            for (std::size_t i = 0; i < len; ++i)
                sink(start + i, static_cast<std::uint32_t>(start + i), block[i]);
    }
}

} // namespace commpress::encode::detail

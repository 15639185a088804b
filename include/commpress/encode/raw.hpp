// SPDX-License-Identifier: MIT
// encode::raw — byte-aligned fields: 32-bit indices and 1-, 2- or 4-byte codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/encode/detail/fixed_codes.hpp>
#include <commpress/encode/detail/index_check.hpp>
#include <commpress/kernels/arch.hpp>

namespace commpress::encode {

/// No packing: per entry a little-endian u32 index (when the sparsifier sends indices) followed by
/// the code in the smallest of 1, 2 or 4 bytes that holds code_bits. What a plain
/// implementation would put on the wire; the baseline the packed encoders are measured against.
struct raw {
    static constexpr std::string_view name = "raw";

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    static unsigned code_bytes(unsigned code_bits) noexcept {
        return code_bits <= 8 ? 1 : code_bits <= 16 ? 2 : 4;
    }
    std::size_t max_bytes(const code_layout& l) const noexcept {
        return l.m * ((l.sends_indices ? 4u : 0u) + code_bytes(l.code_bits));
    }
    std::size_t bits(const code_layout& l) const noexcept { return 8 * max_bytes(l); }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        if (!l.sends_indices && w.byte_aligned())
            return detail::encode_fixed(kernels::arch{}, codes.first(l.m),
                                        8 * code_bytes(l.code_bits), w);
        const unsigned cb = 8 * code_bytes(l.code_bits);
        for (std::size_t j = 0; j < l.m; ++j) {
            if (l.sends_indices)
                w.put(indices[j], 32);
            w.put(codes[j], cb);
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        if (!l.sends_indices && r.byte_aligned())
            return detail::decode_fixed(kernels::arch{}, l.m, 8 * code_bytes(l.code_bits), r, sink);
        const unsigned cb = 8 * code_bytes(l.code_bits);
        detail::index_check check(name, l.n);
        for (std::size_t j = 0; j < l.m; ++j) {
            std::uint32_t index = static_cast<std::uint32_t>(j);
            if (l.sends_indices) {
                index = r.get(32);
                check(j, index);
            }
            sink(j, index, r.get(cb));
        }
    }
};

} // namespace commpress::encode

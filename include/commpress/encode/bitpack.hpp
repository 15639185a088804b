// SPDX-License-Identifier: MIT
// encode::bitpack — fixed-width fields: ceil(log2 n)-bit indices and code_bits-bit codes.
#pragma once

#include <bit>
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

/// Per entry: the index in ceil(log2 n) bits (when the sparsifier sends indices), then the code
/// in code_bits bits (1..32), packed LSB first with no gaps. Exactly m (ceil(log2 n) + b) bits:
/// top-k with fp32 values costs k (32 + ceil(log2 n)) (OPERATORS.md A.13).
struct bitpack {
    static constexpr std::string_view name = "bitpack";

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    static unsigned index_bits(const code_layout& l) noexcept {
        return l.sends_indices && l.n > 1 ? static_cast<unsigned>(std::bit_width(l.n - 1)) : 0;
    }
    std::size_t bits(const code_layout& l) const noexcept {
        return l.m * (index_bits(l) + l.code_bits);
    }
    std::size_t max_bytes(const code_layout& l) const noexcept { return (bits(l) + 7) / 8; }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        if (!l.sends_indices && w.byte_aligned())
            return detail::encode_fixed(kernels::arch{}, codes.first(l.m), l.code_bits, w);
        const unsigned ib = index_bits(l);
        for (std::size_t j = 0; j < l.m; ++j) {
            if (l.sends_indices)
                w.put(indices[j], ib);
            w.put(codes[j], l.code_bits);
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        if (!l.sends_indices && r.byte_aligned())
            return detail::decode_fixed(kernels::arch{}, l.m, l.code_bits, r, sink);
        const unsigned ib = index_bits(l);
        detail::index_check check(name, l.n);
        if (l.sends_indices && ib + l.code_bits <= 57) { // index and code in one read
            for (std::size_t j = 0; j < l.m; ++j) {
                const std::uint64_t v = r.get_wide(ib + l.code_bits);
                const auto index = static_cast<std::uint32_t>(v & ((std::uint64_t{1} << ib) - 1));
                check(j, index);
                sink(j, index, static_cast<std::uint32_t>(v >> ib));
            }
            return;
        }
        for (std::size_t j = 0; j < l.m; ++j) {
            std::uint32_t index = static_cast<std::uint32_t>(j);
            if (l.sends_indices) {
                index = r.get(ib);
                check(j, index);
            }
            sink(j, index, r.get(l.code_bits));
        }
    }
};

} // namespace commpress::encode

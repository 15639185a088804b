// SPDX-License-Identifier: MIT
// encode::sorted_index — packed codes, and the ascending index set in the cheapest of three codes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/encode/detail/index_check.hpp>

namespace commpress::encode {

/// For sparsifiers that send indices (top-k, threshold). Without indices the stream is bitpack's
/// (m codes of code_bits bits). With indices: a 2-bit selector, the m codes of code_bits bits,
/// then the index set coded the way that is cheapest for this message (ties: lowest selector).
/// With gaps g = index - previous - 1 (the first g = index):
///   0 varint: per gap LEB128 groups of 8 bits (7 payload bits, low first, then a continuation
///             bit): 8 max(1, ceil(bit_width(g) / 7)) bits;
///   1 gamma:  per gap gamma(g + 1) (bit_writer::gamma): 2 floor(log2(g + 1)) + 1 bits;
///   2 bitmap: n bits, bit i set when coordinate i is kept.
/// Gamma beats varint on gaps g <= 14 and 128 <= g <= 254; the bitmap wins on dense selections
/// (about m > n / 3 for random ones). At most 2 + n + m b bits, the bitmap's cost (max_bytes).
struct sorted_index {
    enum class method : std::uint8_t { varint = 0, gamma = 1, bitmap = 2 };

    static constexpr std::string_view name = "sorted_index";

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    /// Exact bits of the index set under each method, indexed by method (one pass, no allocation).
    static std::array<std::uint64_t, 3>
    index_bits(const code_layout& l, std::span<const std::uint32_t> indices) noexcept {
        std::uint64_t varint = 0, gamma = 0, next = 0;
        for (std::size_t j = 0; j < l.m; ++j) {
            const std::uint64_t g = indices[j] - next;
            const auto w = static_cast<std::uint64_t>(std::bit_width(g));
            varint += 8 * std::max<std::uint64_t>(1, (w + 6) / 7);
            gamma += 2 * static_cast<std::uint64_t>(std::bit_width(g + 1)) - 1;
            next = std::uint64_t{indices[j]} + 1;
        }
        return {varint, gamma, l.n};
    }

    static method choose(const code_layout& l, std::span<const std::uint32_t> indices) noexcept {
        const auto bits = index_bits(l, indices);
        return static_cast<method>(std::min_element(bits.begin(), bits.end()) - bits.begin());
    }

    /// The chosen method costs at most the least of the three worst cases for m indices below n.
    /// The m arguments v = g + 1 sum to (last index + 1) <= n and log2 is concave, so by Jensen
    /// sum log2 v <= m L, L = log2(n / m). gamma: 2 floor(log2 v) + 1 <= 2 log2 v + 1, total
    /// <= m (2 L + 1). varint: g >= 2^(7k) takes k + 1 groups and then log2 v > 7k, so a gap
    /// costs <= 8 + (8 / 7) log2 v, total <= m (8 + 8 L / 7). bitmap: n.
    std::size_t max_bytes(const code_layout& l) const noexcept {
        const std::uint64_t codes = std::uint64_t{l.m} * l.code_bits;
        if (!l.sends_indices)
            return static_cast<std::size_t>((codes + 7) / 8);
        std::uint64_t idx = 0;
        if (l.m > 0) {
            const double m = static_cast<double>(l.m);
            const double L = std::log2(static_cast<double>(l.n) / m);
            const double bound = m * std::min(2 * L + 1, 8 + 8 * L / 7);
            // One bit and a relative 1e-12 cover the rounding of the logarithm.
            idx = std::min<std::uint64_t>(
                l.n, static_cast<std::uint64_t>(std::ceil(bound * (1 + 1e-12))) + 1);
        }
        return static_cast<std::size_t>((2 + codes + idx + 7) / 8);
    }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        const method how = l.sends_indices ? choose(l, indices) : method::varint;
        if (l.sends_indices)
            w.put(static_cast<std::uint32_t>(how), 2);
        for (std::size_t j = 0; j < l.m; ++j)
            w.put(codes[j], l.code_bits);
        if (!l.sends_indices)
            return;
        if (how == method::bitmap) {
            std::uint64_t base = 0; // coordinate of bit 0 of word
            std::uint32_t word = 0;
            for (std::size_t j = 0; j < l.m; ++j) {
                for (; indices[j] - base >= 32; base += 32, word = 0)
                    w.put(word, 32);
                word |= std::uint32_t{1} << (indices[j] - base);
            }
            for (; l.n - base > 32; base += 32, word = 0)
                w.put(word, 32);
            w.put(word, static_cast<unsigned>(l.n - base));
            return;
        }
        std::uint64_t next = 0;
        for (std::size_t j = 0; j < l.m; ++j) {
            std::uint64_t g = indices[j] - next;
            if (how == method::gamma)
                w.gamma(g + 1);
            else
                do {
                    const auto group = static_cast<std::uint32_t>(g & 0x7f);
                    g >>= 7;
                    w.put(group | (g != 0 ? 0x80u : 0u), 8);
                } while (g != 0);
            next = std::uint64_t{indices[j]} + 1;
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        if (!l.sends_indices) {
            for (std::size_t j = 0; j < l.m; ++j)
                sink(j, static_cast<std::uint32_t>(j), r.get(l.code_bits));
            return;
        }
        const std::uint32_t how = r.get(2);
        if (how > 2)
            commpress::detail::fail_decode(
                "sorted_index: index method selector is 3 (0 varint, 1 gamma, 2 bitmap)");
        // The codes precede the index set: a second reader walks them while r reads the indices.
        bit_reader codes = r;
        const std::uint64_t code_bits = std::uint64_t{l.m} * l.code_bits;
        if (code_bits > r.remaining())
            commpress::detail::fail_decode("sorted_index: truncated: " + std::to_string(l.m) +
                                           " codes need " + std::to_string(code_bits) + " bits, " +
                                           std::to_string(r.remaining()) + " left");
        for (std::uint64_t left = code_bits; left > 0; left -= std::min<std::uint64_t>(left, 32))
            r.get(static_cast<unsigned>(std::min<std::uint64_t>(left, 32)));
        detail::index_check check(name, l.n);
        const auto emit = [&](std::size_t j, std::uint64_t index) {
            check(j, index);
            sink(j, static_cast<std::uint32_t>(index), codes.get(l.code_bits));
        };
        if (how == static_cast<std::uint32_t>(method::bitmap)) {
            std::size_t j = 0;
            for (std::uint64_t base = 0; base < l.n; base += 32)
                for (std::uint32_t word =
                         r.get(static_cast<unsigned>(std::min<std::uint64_t>(32, l.n - base)));
                     word != 0; word &= word - 1) {
                    if (j == l.m)
                        commpress::detail::fail_decode(
                            "sorted_index: the bitmap has more than m = " + std::to_string(l.m) +
                            " ones");
                    emit(j++, base + static_cast<unsigned>(std::countr_zero(word)));
                }
            if (j != l.m)
                commpress::detail::fail_decode("sorted_index: ones in the bitmap", j, l.m);
            return;
        }
        std::uint64_t next = 0;
        for (std::size_t j = 0; j < l.m; ++j) {
            const std::uint64_t index =
                next +
                (how == static_cast<std::uint32_t>(method::gamma) ? r.gamma() - 1 : varint(r));
            emit(j, index);
            next = index + 1;
        }
    }

  private:
    /// A minimal LEB128 gap below 2^32: at most 5 groups, no trailing zero group.
    static std::uint64_t varint(bit_reader& r) {
        std::uint64_t v = 0;
        for (unsigned k = 0; k < 5; ++k) {
            const std::uint32_t group = r.get(8);
            v |= std::uint64_t{group & 0x7f} << (7 * k);
            if ((group & 0x80) != 0)
                continue;
            if (k > 0 && group == 0)
                commpress::detail::fail_decode(
                    "sorted_index: varint gap ends in a zero group (not minimal)");
            if (v > 0xffff'ffffu)
                commpress::detail::fail_decode("sorted_index: varint gap overflows 32 bits");
            return v;
        }
        commpress::detail::fail_decode("sorted_index: varint gap longer than 5 groups");
    }
};

} // namespace commpress::encode

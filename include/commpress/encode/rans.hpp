// SPDX-License-Identifier: MIT
// encode::rans — codes entropy coded by range ANS under a static histogram sent in the stream.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
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

/// Range asymmetric numeral systems (Duda 2013) over the codes, with the empirical histogram of
/// the message as a static model: m H + O(alphabet) bits, H the empirical entropy of the codes.
/// Stream (bit_writer fields, LSB first):
/// - indices sent: per entry gamma(index gap), the first gap index + 1 (as elias_gamma);
/// - code_bits > 12: per entry the code in code_bits bits (bitpack's codes);
/// - otherwise, when m > 0, the table: gamma(k), then per present code, ascending,
///   gamma(code gap) (the first gap code + 1) and gamma(count), the counts summing to m; then,
///   when k > 1, the chunks: per chunk the 31-bit final encoder state and the renormalisation
///   bytes (8 bits each) in the order the decoder reads them.
/// Both sides scale the counts c to frequencies f summing to M = 2^15: f = 1 + floor(c (M - k)
/// / m), the remainder (< k) to the most frequent code (the first on ties). The coder keeps a
/// 32-bit state in [L, 256 L), L = 2^23, emitting bytes (ryg's rans_byte parameters): a step
/// costs log2(M / f) + log2(1 + M / L) bits at most. A chunk is encoded backwards from state L
/// into a stack buffer of 4096 bytes; it ends after the entry whose cost(f) (a Q16 upper bound
/// of that step) pushes the chunk's sum above (8 * 4096 - 16) 2^16, so it never emits more than
/// 4096 bytes, and the decoder replays the sums to find the same boundaries. Each chunk must end
/// back in state L, which catches nearly every corruption of its state or bytes.
/// Why 12 bits: the histogram (2^12 counters) lives on the stack and M = 8 * 2^12 leaves every
/// code f >= 1 at a worst-case price of log2(8/7) bits per entry; QSGD up to s = 2047 fits.
/// Why M = 2^15: the largest total whose frequencies and starts fit 16 bits; M / L = 2^-8.
struct rans {
    static constexpr std::string_view name = "rans";
    static constexpr unsigned max_code_bits = 12;
    static constexpr unsigned scale_bits = 15;                                // M = 2^15
    static constexpr std::uint32_t state_low = 1u << 23;                      // L
    static constexpr std::size_t chunk_bytes = 4096;                          // per chunk, at most
    static constexpr std::uint64_t chunk_cost = (8 * chunk_bytes - 16) << 16; // 16 bits: max cost

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    /// Upper bound of 2^16 (log2(M / f) + log2(1 + M / L)), 1 <= f <= M: what one rANS step may
    /// add to 8 (bytes emitted) + log2(state). log2 f from below by squaring its mantissa (Q31,
    /// truncated, so never above); log2(1 + 2^-8) <= 2^-8 / ln 2 < 370 / 2^16.
    static constexpr std::uint32_t cost(std::uint32_t f) noexcept {
        const auto e = static_cast<unsigned>(std::bit_width(f)) - 1;
        std::uint64_t z = std::uint64_t{f} << (31 - e); // f / 2^e in [1, 2)
        std::uint32_t lg = e << 16;
        for (std::uint32_t bit = 1u << 15; bit != 0; bit >>= 1) {
            z = z * z >> 31; // squaring doubles the logarithm: the next bit
            if (z >> 32) {
                lg |= bit;
                z >>= 1;
            }
        }
        return (scale_bits << 16) - lg + 370;
    }

    /// Indices: Jensen as in elias_gamma. Table: t gamma codes summing to at most S cost at most
    /// t (2 log2(S/t) + 1), increasing in t up to t = S 2^(1/2 - 1/ln 2). Chunks: with f > c (M -
    /// k) / m, the costs sum to at most m (H + log2(M / (M - k)) + 372 / 2^16), H <= log2 k,
    /// 8 bits a byte; every chunk but the last costs more than chunk_cost and adds a 31-bit state.
    std::size_t max_bytes(const code_layout& l) const noexcept {
        if (l.m == 0)
            return 0;
        const double m = static_cast<double>(l.m), M = 1 << scale_bits;
        // Index gaps by Jensen; log2(n/m) floored at 1 keeps the bound nondecreasing in m, as a
        // threshold's variable-count pipeline needs.
        double bits = l.sends_indices
                          ? m * (2 * std::max(1.0, std::log2(static_cast<double>(l.n) / m)) + 1)
                          : 0;
        if (l.code_bits > max_code_bits) {
            bits += m * l.code_bits;
        } else {
            const double q = std::exp2(l.code_bits), k = std::min(m, q);
            const auto gammas = [](double t, double s) {
                t = std::min(t, s * std::exp2(0.5 - 1 / std::log(2.0)));
                return t * (2 * std::log2(s / t) + 1);
            };
            const double coded = m * (std::log2(k) + std::log2(M / (M - k)) + 372.0 / 65536);
            bits += 2 * std::log2(k) + 1 + gammas(k, q) + gammas(k, m) + coded +
                    31 * (1 + coded / static_cast<double>(chunk_cost >> 16));
        }
        return static_cast<std::size_t>(std::ceil(bits / 8)) + 8;
    }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        if (l.sends_indices) {
            std::uint64_t next = 0;
            for (std::size_t j = 0; j < l.m; ++j) {
                w.gamma(indices[j] - next + 1);
                next = std::uint64_t{indices[j]} + 1;
            }
        }
        if (l.code_bits > max_code_bits) {
            for (std::size_t j = 0; j < l.m; ++j)
                w.put(codes[j], l.code_bits);
            return;
        }
        if (l.m == 0)
            return;
        const std::size_t q = std::size_t{1} << l.code_bits;
        const auto mask = static_cast<std::uint32_t>(q - 1);
        std::array<std::uint32_t, alphabet> count; // counts, then costs, by code
        std::array<std::uint32_t, alphabet> range; // start << 16 | f, by code
        std::fill_n(count.begin(), q, 0u);
        for (std::size_t j = 0; j < l.m; ++j) {
            assert(codes[j] <= mask);
            ++count[codes[j] & mask];
        }
        const auto k = static_cast<std::size_t>(
            std::count_if(count.begin(), count.begin() + q, [](std::uint32_t c) { return c; }));
        w.gamma(k);
        for (std::size_t s = 0, next = 0; s < q; ++s)
            if (count[s] != 0) {
                w.gamma(s - next + 1);
                w.gamma(count[s]);
                next = s + 1;
            }
        if (k == 1)
            return; // the table says it all
        normalize(std::span(count).first(q), k, l.m);
        for (std::uint32_t s = 0, start = 0; s < q; ++s) {
            range[s] = start << 16 | count[s];
            start += count[s];
            count[s] = count[s] != 0 ? cost(count[s]) : 0;
        }
        std::array<std::uint8_t, chunk_bytes> buf;
        for (std::size_t a = 0, b = 0; a < l.m; a = b) {
            for (std::uint64_t sum = 0; b < l.m && sum <= chunk_cost; ++b)
                sum += count[codes[b] & mask];
            std::uint32_t x = state_low;
            std::size_t t = 0;
            for (std::size_t j = b; j-- > a;) { // backwards, so that the decoder runs forwards
                const std::uint32_t r = range[codes[j] & mask], f = r & 0xffff;
                for (const std::uint32_t x_max = (state_low >> scale_bits << 8) * f; x >= x_max;
                     x >>= 8)
                    buf[t++] = static_cast<std::uint8_t>(x);
                x = ((x / f) << scale_bits) + x % f + (r >> 16);
            }
            w.put(x, 31);
            while (t > 0)
                w.put(buf[--t], 8);
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        bit_reader gaps = r; // a second cursor re-reads the checked gaps in step with the codes
        if (l.sends_indices) {
            detail::index_check check(name, l.n);
            for (std::uint64_t j = 0, next = 0; j < l.m; ++j) {
                const std::uint64_t index = next + r.gamma() - 1;
                check(j, index);
                next = index + 1;
            }
        }
        std::uint64_t index = 0, next = 0;
        const auto emit = [&](std::size_t j, std::uint32_t code) {
            index = l.sends_indices ? next + gaps.gamma() - 1 : j;
            next = index + 1;
            sink(j, static_cast<std::uint32_t>(index), code);
        };
        if (l.code_bits > max_code_bits) {
            for (std::size_t j = 0; j < l.m; ++j)
                emit(j, r.get(l.code_bits));
            return;
        }
        if (l.m == 0)
            return;
        const std::uint64_t q = std::uint64_t{1} << l.code_bits, k = r.gamma();
        if (k > std::min<std::uint64_t>(q, l.m))
            commpress::detail::fail_decode("rans: table of " + std::to_string(k) +
                                           " codes; at most min(m, 2^code_bits) = " +
                                           std::to_string(std::min<std::uint64_t>(q, l.m)));
        std::array<std::uint16_t, alphabet> sym;   // by rank
        std::array<std::uint32_t, alphabet> count; // counts, then costs, by rank
        std::uint64_t total = 0;
        for (std::uint64_t i = 0, s = 0; i < k; ++i, ++s) {
            if ((s += r.gamma() - 1) >= q)
                commpress::detail::fail_decode("rans: table code " + std::to_string(s) +
                                               " is not below 2^code_bits = " + std::to_string(q));
            const std::uint64_t c = r.gamma();
            if (c > l.m - total || c > 0xffff'ffffu)
                commpress::detail::fail_decode("rans: table counts sum past m = " +
                                               std::to_string(l.m));
            total += c;
            sym[i] = static_cast<std::uint16_t>(s);
            count[i] = static_cast<std::uint32_t>(c);
        }
        if (total != l.m)
            commpress::detail::fail_decode("rans: table counts sum", total, l.m);
        if (k == 1) {
            for (std::size_t j = 0; j < l.m; ++j)
                emit(j, sym[0]);
            return;
        }
        normalize(std::span(count).first(k), k, l.m);
        std::array<std::uint16_t, alphabet + 1> start; // by rank; start[k] = M
        std::array<std::uint16_t, alphabet> bucket;    // rank holding slot 8 i, M / 8 = alphabet
        start[0] = 0;
        for (std::size_t i = 0; i < k; ++i) {
            start[i + 1] = static_cast<std::uint16_t>(start[i] + count[i]);
            for (std::uint32_t b = (start[i] + 7u) / 8; 8 * b < start[i + 1]; ++b)
                bucket[b] = static_cast<std::uint16_t>(i);
            count[i] = cost(count[i]);
        }
        for (std::size_t j = 0; j < l.m;) {
            std::uint32_t x = r.get(31);
            if (x < state_low)
                commpress::detail::fail_decode("rans: chunk at entry " + std::to_string(j) +
                                               " starts in state " + std::to_string(x) +
                                               ", below 2^23");
            for (std::uint64_t sum = 0; j < l.m && sum <= chunk_cost; ++j) {
                const std::uint32_t slot = x & ((1u << scale_bits) - 1);
                std::size_t i = bucket[slot / 8];
                while (slot >= start[i + 1])
                    ++i;
                const auto f = static_cast<std::uint32_t>(start[i + 1] - start[i]);
                x = f * (x >> scale_bits) + slot - start[i];
                while (x < state_low)
                    x = x << 8 | r.get(8);
                emit(j, sym[i]);
                sum += count[i];
            }
            if (x != state_low)
                commpress::detail::fail_decode("rans: chunk ending at entry " +
                                               std::to_string(j - 1) + " ends in state " +
                                               std::to_string(x) + ", not the initial 2^23");
        }
    }

  private:
    static constexpr std::size_t alphabet = std::size_t{1} << max_code_bits;

    /// Counts (0: absent) to frequencies summing to M, in place; k codes present, m entries.
    /// k + sum floor(c (M - k) / m) lies in (M - k, M]: the remainder is below k.
    static void normalize(std::span<std::uint32_t> c, std::size_t k, std::uint64_t m) noexcept {
        const auto top = static_cast<std::size_t>(std::max_element(c.begin(), c.end()) - c.begin());
        const std::uint64_t spread = (std::uint64_t{1} << scale_bits) - k;
        std::uint64_t sum = 0;
        for (std::uint32_t& f : c)
            if (f != 0)
                sum += f = static_cast<std::uint32_t>(1 + f * spread / m);
        c[top] += static_cast<std::uint32_t>((std::uint64_t{1} << scale_bits) - sum);
    }
};

} // namespace commpress::encode

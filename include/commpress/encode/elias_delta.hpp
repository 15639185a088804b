// SPDX-License-Identifier: MIT
// encode::elias_delta — Elias delta codes for index gaps, zero runs and codes.
#pragma once

#include <algorithm>
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

/// Elias delta coding: delta(v), 1 <= v < 2^33, is gamma(N + 1) (bit_writer::gamma) followed by
/// the N low bits of v, least significant first, N = floor(log2 v): N + 1 + 2 floor(log2(N + 1))
/// bits (delta(1) = 1, delta(2) = 4, delta(2^32) = 43). Same three modes as elias_gamma, fixed by
/// the layout:
/// - indices sent:       per entry delta(index gap), delta(code + 1); the first gap is index + 1;
/// - zero code is zero:  delta(nnz + 1), then per nonzero code delta(zeros skipped + 1),
///                       delta(code);
/// - otherwise:          per entry delta(code + 1).
/// Shorter than gamma for large values (gaps of sparse selections, wide codes), one bit longer
/// for 2 and 3.
struct elias_delta {
    static constexpr std::string_view name = "elias_delta";

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    /// Bits of delta(v), v >= 1.
    static constexpr unsigned length(std::uint64_t v) noexcept {
        const unsigned n = static_cast<unsigned>(std::bit_width(v)) - 1;
        return n + 2 * (static_cast<unsigned>(std::bit_width(std::uint64_t{n} + 1)) - 1) + 1;
    }

    /// Proven bound. With u = log2 v, delta(v) costs <= f(u) = u + 1 + 2 log2(u + 1) bits
    /// (N <= u, floor(log2(N + 1)) <= log2(u + 1)). f is increasing and concave on u >= 0
    /// (f'' = -2 / ((u + 1)^2 ln 2)) and log2 is concave, so g(v) = f(log2 v) is concave on v >= 1
    /// and Jensen gives: t codes whose arguments sum to at most S cost <= t f(log2(S / t)).
    /// A code argument <= 2^b (code + 1 or a nonzero code, code < 2^b) has N <= b: at most
    /// c_b = b + 1 + 2 floor(log2(b + 1)) bits.
    /// - indices sent: m gaps summing to <= n (the last index + 1): m f(log2(n / m)) + m c_b.
    /// - zero runs: delta(nnz + 1) <= f(log2(m + 1)); t = nnz runs + 1 summing to <= m. As
    ///   log2(1 + u) <= u / ln 2, t f(log2(m/t)) <= (1 + 2 / ln 2) t log2(m / t) + t, and
    ///   t log2(m / t) <= m / (e ln 2) (maximum at t = m / e), so the runs cost
    ///   <= (1 + 2 / ln 2) m / (e ln 2) + m < 3.07 m; plus t c_b <= m c_b for the codes.
    /// - plain: m c_b.
    /// 8 bytes of slack cover the floating-point evaluation of the logs.
    std::size_t max_bytes(const code_layout& l) const noexcept {
        if (l.m == 0)
            return 1;
        const double m = static_cast<double>(l.m);
        const unsigned b = l.code_bits;
        const double cb =
            b + 1 + 2 * (static_cast<unsigned>(std::bit_width(std::uint64_t{b} + 1)) - 1);
        auto f = [](double u) { return u + 1 + 2 * std::log2(u + 1); };
        double bits;
        // log2(n/m) floored at 1 keeps the bound nondecreasing in m, as a threshold's
        // variable-count pipeline needs (m f(log2(n/m)) peaks near m = n/2).
        if (l.sends_indices)
            bits = m * f(std::max(1.0, std::log2(static_cast<double>(l.n) / m))) + m * cb;
        else if (l.zero_code_is_zero)
            bits = f(std::log2(m + 1)) + 3.07 * m + m * cb;
        else
            bits = m * cb;
        return static_cast<std::size_t>(std::ceil(bits / 8)) + 8;
    }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        if (l.sends_indices) {
            std::uint64_t next = 0; // smallest index the next entry may have
            for (std::size_t j = 0; j < l.m; ++j) {
                put(w, indices[j] - next + 1);
                put(w, std::uint64_t{codes[j]} + 1);
                next = std::uint64_t{indices[j]} + 1;
            }
        } else if (l.zero_code_is_zero) {
            std::size_t nnz = 0;
            for (std::size_t j = 0; j < l.m; ++j)
                nnz += codes[j] != 0;
            put(w, std::uint64_t{nnz} + 1);
            std::size_t next = 0;
            for (std::size_t j = 0; j < l.m; ++j)
                if (codes[j] != 0) {
                    put(w, std::uint64_t{j - next} + 1);
                    put(w, codes[j]);
                    next = j + 1;
                }
        } else {
            for (std::size_t j = 0; j < l.m; ++j)
                put(w, std::uint64_t{codes[j]} + 1);
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        if (l.sends_indices) {
            detail::index_check check(name, l.n);
            std::uint64_t next = 0;
            for (std::size_t j = 0; j < l.m; ++j) {
                const std::uint64_t index = next + get(r) - 1;
                check(j, index);
                sink(j, static_cast<std::uint32_t>(index), code(get(r) - 1));
                next = index + 1;
            }
        } else if (l.zero_code_is_zero) {
            const std::uint64_t nnz = get(r) - 1;
            if (nnz > l.m)
                commpress::detail::fail_decode("elias_delta: nonzero count", nnz, l.m);
            std::uint64_t next = 0;
            for (std::uint64_t j = 0; j < nnz; ++j) {
                const std::uint64_t slot = next + get(r) - 1;
                if (slot >= l.m)
                    commpress::detail::fail_decode(
                        "elias_delta: run of zeros passes the end (slot " + std::to_string(slot) +
                        " of " + std::to_string(l.m) + ")");
                sink(static_cast<std::size_t>(slot), static_cast<std::uint32_t>(slot),
                     code(get(r)));
                next = slot + 1;
            }
        } else {
            for (std::size_t j = 0; j < l.m; ++j)
                sink(j, static_cast<std::uint32_t>(j), code(get(r) - 1));
        }
    }

    /// Writes delta(v), 1 <= v < 2^33 (the library writes at most 2^32), so N <= 32.
    static void put(bit_writer& w, std::uint64_t v) noexcept {
        const unsigned n = static_cast<unsigned>(std::bit_width(v)) - 1;
        w.gamma(std::uint64_t{n} + 1);
        if (n > 0)
            w.put(static_cast<std::uint32_t>(v & ((std::uint64_t{1} << n) - 1)), n);
    }

    /// Reads delta(v); rejects N > 32 (v >= 2^33, wider than anything the library sends).
    static std::uint64_t get(bit_reader& r) {
        const std::uint64_t n1 = r.gamma(); // N + 1
        if (n1 > 33)
            commpress::detail::fail_decode("elias_delta: delta code with " +
                                           std::to_string(n1 - 1) +
                                           " mantissa bits (at most 32 allowed)");
        const auto n = static_cast<unsigned>(n1 - 1);
        std::uint64_t v = std::uint64_t{1} << n;
        if (n > 0)
            v |= r.get(n);
        return v;
    }

  private:
    static std::uint32_t code(std::uint64_t v) {
        if (v > 0xffff'ffffu)
            commpress::detail::fail_decode("elias_delta: code wider than 32 bits");
        return static_cast<std::uint32_t>(v);
    }
};

} // namespace commpress::encode

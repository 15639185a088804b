// SPDX-License-Identifier: MIT
// encode::elias_gamma — variable-length codes for index gaps and small levels.
#pragma once

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

/// Elias gamma coding (gamma(v) = 2 floor(log2 v) + 1 bits, see bit_writer::gamma), in one of
/// three modes fixed by the layout:
/// - indices sent:       per entry gamma(index gap), gamma(code + 1); the first gap is index + 1;
/// - zero code is zero:  gamma(nnz + 1), then per nonzero code gamma(zeros skipped + 1),
///                       gamma(code) — the run-length scheme of QSGD's Theorem 3.2;
/// - otherwise:          per entry gamma(code + 1).
/// Small numbers get short codes: QSGD levels, top-k gaps of dense selections.
struct elias_gamma {
    static constexpr std::string_view name = "elias_gamma";

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    /// Upper bound from Jensen's inequality: t codes whose arguments sum to at most S cost at most
    /// t (2 log2(S/t) + 1) bits; each code + 1 <= 2^b costs at most 2b + 1.
    std::size_t max_bytes(const code_layout& l) const noexcept {
        if (l.m == 0)
            return 1;
        const double m = static_cast<double>(l.m), b = l.code_bits;
        double bits;
        if (l.sends_indices)
            bits = 2 * m * std::log2(static_cast<double>(l.n) / m) + m * (2 * b + 2);
        else if (l.zero_code_is_zero) // runs sum to <= m; max at t = m for b >= 2, below 2.2m b=1
            bits = 2 * std::log2(m + 1) + 1 + m * (2 * b + 2);
        else
            bits = m * (2 * b + 1);
        return static_cast<std::size_t>(std::ceil(bits / 8)) + 8;
    }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        if (l.sends_indices) {
            std::uint64_t next = 0; // smallest index the next entry may have
            for (std::size_t j = 0; j < l.m; ++j) {
                w.gamma(indices[j] - next + 1);
                w.gamma(std::uint64_t{codes[j]} + 1);
                next = std::uint64_t{indices[j]} + 1;
            }
        } else if (l.zero_code_is_zero) {
            std::size_t nnz = 0;
            for (std::size_t j = 0; j < l.m; ++j)
                nnz += codes[j] != 0;
            w.gamma(nnz + 1);
            std::size_t next = 0;
            for (std::size_t j = 0; j < l.m; ++j)
                if (codes[j] != 0) {
                    w.gamma(j - next + 1);
                    w.gamma(codes[j]);
                    next = j + 1;
                }
        } else {
            for (std::size_t j = 0; j < l.m; ++j)
                w.gamma(std::uint64_t{codes[j]} + 1);
        }
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        if (l.sends_indices) {
            detail::index_check check(name, l.n);
            std::uint64_t next = 0;
            for (std::size_t j = 0; j < l.m; ++j) {
                const std::uint64_t index = next + r.gamma() - 1;
                check(j, index);
                sink(j, static_cast<std::uint32_t>(index), code(r.gamma() - 1));
                next = index + 1;
            }
        } else if (l.zero_code_is_zero) {
            const std::uint64_t nnz = r.gamma() - 1;
            if (nnz > l.m)
                commpress::detail::fail_decode("elias_gamma: nonzero count", nnz, l.m);
            std::uint64_t next = 0;
            for (std::uint64_t j = 0; j < nnz; ++j) {
                const std::uint64_t slot = next + r.gamma() - 1;
                if (slot >= l.m)
                    commpress::detail::fail_decode(
                        "elias_gamma: run of zeros passes the end (slot " + std::to_string(slot) +
                        " of " + std::to_string(l.m) + ")");
                sink(static_cast<std::size_t>(slot), static_cast<std::uint32_t>(slot),
                     code(r.gamma()));
                next = slot + 1;
            }
        } else {
            for (std::size_t j = 0; j < l.m; ++j)
                sink(j, static_cast<std::uint32_t>(j), code(r.gamma() - 1));
        }
    }

  private:
    static std::uint32_t code(std::uint64_t v) {
        if (v > 0xffff'ffffu)
            commpress::detail::fail_decode("elias_gamma: code wider than 32 bits");
        return static_cast<std::uint32_t>(v);
    }
};

} // namespace commpress::encode

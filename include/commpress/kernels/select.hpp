// SPDX-License-Identifier: MIT
// Exact top-k selection by radix select on magnitude bits: two passes over x, then work on the
// few candidates that share the k-th largest magnitude's leading bits.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace commpress::kernels {

/// Scratch for top_k_indices. Grows to n on first use; later calls allocate nothing.
struct select_workspace {
    std::vector<std::uint32_t> histogram;
    std::vector<std::uint32_t> candidates; ///< ascending indices
    std::vector<std::uint32_t> mag32;      ///< their magnitudes, float input
    std::vector<std::uint64_t> mag64;      ///< their magnitudes, double input
};

namespace detail {

template <class T>
using magnitude_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

/// |v| as an unsigned integer: monotone in |v| for every non-NaN value, NaN above inf.
template <class T>
magnitude_t<T> magnitude_bits(T v) noexcept {
    using U = magnitude_t<T>;
    return std::bit_cast<U>(v) & (~U{0} >> 1);
}

inline constexpr unsigned radix_bits = 11;
inline constexpr std::size_t radix = std::size_t{1} << radix_bits;
// Four interleaved histograms break the store-to-load chain of runs of equal digits, and keep
// every counter below 2^32 for n <= 2^32. Each has one extra bin that collects skipped items.
inline constexpr std::size_t ways = 4, stride = radix + 1;

/// Histogram of digit(i) for i < n into h (ways * stride counters, zeroed here); digit returns a
/// value <= radix, radix meaning "skip". h is a raw pointer and digit should capture by value:
/// the counters are unsigned ints, so a store through them could otherwise alias what the
/// digit reads, and the compiler would reload it on every element.
template <class F>
void count_digits(std::uint32_t* h, std::size_t n, F digit) noexcept {
    std::fill_n(h, ways * stride, 0u);
    const std::size_t body = n - n % ways;
    for (std::size_t i = 0; i < body; i += ways)
        for (std::size_t j = 0; j < ways; ++j)
            ++h[j * stride + digit(i + j)];
    for (std::size_t i = body; i < n; ++i)
        ++h[digit(i)];
}

/// The digit holding the rank-th largest item (rank is 1-based and at most the histogram's
/// total); lowers rank by the number of items in higher digits.
inline std::size_t find_digit(const std::uint32_t* h, std::size_t& rank) noexcept {
    for (std::size_t d = radix; d-- > 1;) {
        std::size_t c = 0;
        for (std::size_t j = 0; j < ways; ++j)
            c += h[j * stride + d];
        if (rank <= c)
            return d;
        rank -= c;
    }
    return 0;
}

} // namespace detail

/// The indices of the out.size() largest magnitudes of x, ascending, ties broken by the lowest
/// index: exactly the set a stable sort by decreasing magnitude bits (bit_cast(x_i) without the
/// sign bit, so NaN ranks above inf and -0 ties +0) puts first. Requires out.size() <= x.size()
/// <= 2^32. Integer work only, so the result is the same on every machine.
///
/// Radix select (MSD): a histogram of the top 11 magnitude bits finds the digit d holding the
/// k-th largest; one pass keeps the indices whose top digit is >= d, with their magnitudes;
/// 11-bit digits of those in d then pin the k-th largest magnitude t exactly. The output is the
/// candidates above t plus the first ones equal to t, already in index order.
struct top_k_indices_fn {
    template <class T>
    void operator()(std::span<const T> x, std::span<std::uint32_t> out,
                    select_workspace& w) const noexcept {
        static_assert(std::is_floating_point_v<T> && (sizeof(T) == 4 || sizeof(T) == 8));
        using U = detail::magnitude_t<T>;
        const std::size_t n = x.size(), k = out.size();
        if (k >= n) {
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<std::uint32_t>(i);
            return;
        }
        if (k == 0)
            return;
        std::vector<U>& mag_vec = [&]() -> std::vector<U>& {
            if constexpr (sizeof(U) == 4)
                return w.mag32;
            else
                return w.mag64;
        }();
        w.histogram.resize(detail::ways * detail::stride); // no-ops once grown
        if (w.candidates.size() < n)
            w.candidates.resize(n);
        if (mag_vec.size() < n)
            mag_vec.resize(n);
        std::uint32_t* const h = w.histogram.data();
        std::uint32_t* const cand = w.candidates.data();
        U* const mag = mag_vec.data();
        const T* const xp = x.data();

        constexpr unsigned bits = 8 * sizeof(U) - 1; // the sign bit is not part of |x|
        unsigned shift = bits - detail::radix_bits;
        detail::count_digits(h, n, [xp, shift](std::size_t i) {
            return static_cast<std::size_t>(detail::magnitude_bits(xp[i]) >> shift);
        });
        std::size_t rank = k; // rank of the k-th largest among the items sharing its prefix
        U prefix = static_cast<U>(detail::find_digit(h, rank));

        // Candidates: every index whose top digit is >= prefix, with its magnitude, stored then
        // advanced past (no branch). A block whose largest magnitude is below that (one vector
        // max) holds none: at k = 1% of a Gaussian, that is most blocks.
        const U low = prefix << shift;
        std::size_t c = 0;
        const auto collect = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to; ++i) {
                const U m = detail::magnitude_bits(xp[i]);
                cand[c] = static_cast<std::uint32_t>(i);
                mag[c] = m;
                c += m >= low;
            }
        };
        constexpr std::size_t block = 16;
        const std::size_t body = n - n % block;
        for (std::size_t i = 0; i < body; i += block) {
            U top = 0;
            for (std::size_t j = i; j < i + block; ++j)
                top = std::max(top, detail::magnitude_bits(xp[j]));
            if (top >= low)
                collect(i, i + block);
        }
        collect(body, n);

        // Refine the threshold digit by digit, among the candidates that share its prefix.
        while (shift > 0) {
            const unsigned next = shift > detail::radix_bits ? shift - detail::radix_bits : 0;
            const U digit_mask = (U{1} << (shift - next)) - 1;
            detail::count_digits(h, c, [mag, shift, next, prefix, digit_mask](std::size_t j) {
                const U m = mag[j];
                return (m >> shift) == prefix ? static_cast<std::size_t>((m >> next) & digit_mask)
                                              : detail::radix;
            });
            prefix = static_cast<U>((prefix << (shift - next)) |
                                    static_cast<U>(detail::find_digit(h, rank)));
            shift = next;
        }

        // prefix is now the k-th largest magnitude t, and rank the number of items equal to t
        // to keep: the first ones, since the candidates are in index order.
        const U t = prefix;
        std::size_t o = 0;
        for (std::size_t j = 0; j < c; ++j) {
            const U m = mag[j];
            if (m > t || (m == t && rank > 0)) {
                out[o++] = cand[j];
                rank -= m == t;
            }
        }
    }
};
inline constexpr top_k_indices_fn top_k_indices{};

} // namespace commpress::kernels

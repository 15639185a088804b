// SPDX-License-Identifier: MIT
// What flows between the stages of a pipeline: the kept values, their coordinates, and the
// shape of the code stream an encoder has to carry.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace commpress {

// The wire format is IEEE 754: binary32 values and scales, conversions rounding as IEEE says
// (a finite double beyond FLT_MAX becomes inf, not undefined behaviour).
static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "commpress needs IEEE 754 binary32 and binary64");

/// How a sparsifier's coordinates reach the decoder.
enum class index_mode : std::uint8_t {
    dense,   ///< every coordinate is kept: slot j is coordinate j
    sent,    ///< coordinates are data dependent and travel in the payload (top-k)
    implicit ///< coordinates are recreated from the seed and the header (rand-k)
};

/// A sparsifier's output: m kept values in slot order and, unless dense, their coordinates in
/// ascending order.
template <class T>
struct selection {
    std::span<const T> values;
    std::span<const std::uint32_t> indices;
};

/// The code stream an encoder carries: m codes of `code_bits` bits for a tensor of n elements,
/// with coordinates when `sends_indices`. When `zero_code_is_zero`, code 0 decodes to 0.0, so an
/// encoder may drop zero codes.
struct code_layout {
    std::size_t n = 0;
    std::size_t m = 0;
    bool sends_indices = false;
    unsigned code_bits = 32;
    bool zero_code_is_zero = false;
};

namespace detail {

/// k from a ratio or an explicit count: k when nonzero (capped at n), else ceil(ratio * n) but at
/// least 1 for n > 0. The tolerance keeps 0.1 * 30 at 3, not 4.
inline std::size_t kept_count(double ratio, std::size_t k, std::size_t n) noexcept {
    if (n == 0)
        return 0;
    if (k != 0)
        return k < n ? k : n;
    const double t = ratio * static_cast<double>(n);
    const double r = std::round(t);
    const double c = std::abs(t - r) <= 1e-9 * t ? r : std::ceil(t);
    const auto kk = static_cast<std::size_t>(c < 1 ? 1 : c);
    return kk < n ? kk : n;
}

/// Buckets of `bucket` values (0 = one bucket) that hold m values: ceil(m / bucket), written so
/// that a huge bucket cannot wrap around.
constexpr std::size_t bucket_count(std::size_t m, std::size_t bucket) noexcept {
    if (m == 0)
        return 0;
    return bucket ? m / bucket + (m % bucket != 0) : 1;
}

/// The bucket of a slot, slot / bucket (always 0 when bucket is 0: one bucket), by a multiply
/// instead of a division, for per-element decoders: c = ceil(2^64 / bucket) gives
/// floor(slot c / 2^64) = slot / bucket exactly for every slot below 2^32 (Lemire, Kaser and
/// Kurz, "Faster remainder by direct computation", 2019), and slots are below 2^32.
class bucket_divider {
  public:
    bucket_divider(std::size_t bucket) noexcept // NOLINT: converts, as a size in a decoder
        : one_(bucket == 1), c_(bucket > 1 ? ~std::uint64_t{0} / bucket + 1 : 0) {}

    std::size_t operator()(std::size_t slot) const noexcept {
        __extension__ using uint128 = unsigned __int128;
        return one_ ? slot : static_cast<std::size_t>((uint128{c_} * slot) >> 64);
    }

  private:
    bool one_;
    std::uint64_t c_;
};

} // namespace detail
} // namespace commpress

// SPDX-License-Identifier: MIT
// kernels::top_k_indices against a stable-sort reference: the same index set, ascending, on test
// shapes and on inputs built to stress each radix digit, ties, NaN, inf, +-0 and subnormals.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/kernels/select.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

/// The documented order, written without the library: magnitude = the bits without the sign.
std::uint64_t mag(float v) { return std::bit_cast<std::uint32_t>(v) & 0x7fff'ffffu; }
std::uint64_t mag(double v) { return std::bit_cast<std::uint64_t>(v) & 0x7fff'ffff'ffff'ffffull; }

/// All indices by decreasing magnitude; stable, so equal magnitudes stay in index order.
template <class T>
std::vector<std::uint32_t> reference_order(std::span<const T> x) {
    std::vector<std::uint32_t> order(x.size());
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return mag(x[a]) > mag(x[b]); });
    return order;
}

/// The kernel's answer for every k in ks equals the first k of the reference order, ascending.
/// One workspace serves all calls, as in a pipeline: nothing may leak from one call to the next.
template <class T>
void check(std::span<const T> x, std::initializer_list<std::size_t> ks,
           kernels::select_workspace& w) {
    const auto order = reference_order(x);
    for (const std::size_t k : ks) {
        if (k > x.size())
            continue;
        CAPTURE(x.size(), k);
        std::vector<std::uint32_t> want(order.begin(), order.begin() + static_cast<long>(k));
        std::sort(want.begin(), want.end());
        std::vector<std::uint32_t> got(k, 0xdead'beefu);
        kernels::top_k_indices(x, std::span<std::uint32_t>(got), w);
        CHECK(got == want);
    }
}

template <class T>
void check_all_k(const std::vector<T>& v, kernels::select_workspace& w) {
    const std::span<const T> x(v);
    const std::size_t n = x.size();
    check(x, {0, 1, 2, 3, n / 100 + 1, n / 3, n / 2 + 1, n - 1, n}, w);
}

template <class U, class T>
T from_bits(U u) {
    return std::bit_cast<T>(u);
}

} // namespace

TEST_CASE("top_k_indices equals the stable-sort reference on every test shape",
          "[kernels][select]") {
    kernels::select_workspace w;
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {0u, 1u, 7u, 64u, 4099u, 100000u}) {
            CAPTURE(tv::name(s), n);
            check_all_k(tv::make<float>(s, n, 31 * n + 1), w);
            check_all_k(tv::make<double>(s, n, 37 * n + 2), w);
        }
}

TEST_CASE("top_k_indices breaks ties by the lowest index", "[kernels][select]") {
    kernels::select_workspace w;
    SECTION("all magnitudes equal, both signs: the first k") {
        std::vector<float> x(4099, 1.5f);
        for (std::size_t i = 0; i < x.size(); i += 3)
            x[i] = -1.5f;
        check_all_k(x, w);
        std::vector<std::uint32_t> got(10);
        kernels::top_k_indices(std::span<const float>(x), std::span<std::uint32_t>(got), w);
        std::vector<std::uint32_t> first(10);
        std::iota(first.begin(), first.end(), std::uint32_t{0});
        CHECK(got == first);
        check_all_k(std::vector<double>(x.begin(), x.end()), w);
    }
    SECTION("+0 and -0 tie") {
        std::vector<float> x(1000, 0.0f);
        for (std::size_t i = 0; i < x.size(); i += 2)
            x[i] = -0.0f;
        x[700] = 1e-45f; // the smallest subnormal beats every zero
        check_all_k(x, w);
        check_all_k(std::vector<double>(x.begin(), x.end()), w);
    }
    SECTION("a few levels, so thousands of ties sit at the threshold") {
        std::mt19937_64 rng(5);
        std::vector<float> x(100000);
        for (auto& v : x) // magnitudes 0, 1, 2, 3: each threshold has ~28000 ties
            v = static_cast<float>(static_cast<int>(rng() % 7) - 3); // -3 .. 3
        check_all_k(x, w);
        check_all_k(std::vector<double>(x.begin(), x.end()), w);
    }
}

TEST_CASE("top_k_indices ranks NaN above inf above every finite value", "[kernels][select]") {
    kernels::select_workspace w;
    const float inf = std::numeric_limits<float>::infinity();
    const float qnan = std::numeric_limits<float>::quiet_NaN();
    std::mt19937_64 rng(11);
    std::normal_distribution<float> normal;
    std::vector<float> x(4099);
    for (auto& v : x)
        v = normal(rng);
    // Sprinkle the specials: NaNs with different payloads and signs, +-inf, extremes, subnormals.
    const float specials[] = {qnan,
                              -qnan,
                              from_bits<std::uint32_t, float>(0x7f80'0001u), // signalling NaN
                              from_bits<std::uint32_t, float>(0xffff'ffffu),
                              inf,
                              -inf,
                              std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(),
                              std::numeric_limits<float>::min(),
                              std::numeric_limits<float>::denorm_min(),
                              -std::numeric_limits<float>::denorm_min(),
                              0.0f,
                              -0.0f};
    for (std::size_t j = 0; j < x.size(); j += 97)
        x[j] = specials[(j / 97) % std::size(specials)];
    check_all_k(x, w);
    check(std::span<const float>(x), {1, 4, 5, 8, 9, 12, 13, 40}, w); // around the NaN/inf counts

    // Every 32-bit pattern is a float: uniform random bits cover all classes at once.
    std::vector<float> bits(100000);
    for (auto& v : bits)
        v = from_bits<std::uint32_t, float>(static_cast<std::uint32_t>(rng()));
    check_all_k(bits, w);
    std::vector<double> dbits(100000);
    for (auto& v : dbits)
        v = from_bits<std::uint64_t, double>(rng());
    check_all_k(dbits, w);
}

TEST_CASE("top_k_indices resolves magnitudes that differ only in low bits", "[kernels][select]") {
    // Float digits are bits 30..20, 19..9 and 8..0; double digits 62..52, 51..41, ..., 7..0.
    // Each input fixes the bits above one digit boundary, so that digit decides the order.
    kernels::select_workspace w;
    std::mt19937_64 rng(17);
    for (const unsigned low : {1u, 5u, 9u, 10u, 20u, 21u, 25u}) {
        CAPTURE(low);
        std::vector<float> x(4099);
        for (auto& v : x) {
            const auto r = static_cast<std::uint32_t>(rng());
            const std::uint32_t sign = r & 0x8000'0000u;
            const std::uint32_t m = 0x3f80'0000u | (r & ((1u << low) - 1));
            v = from_bits<std::uint32_t, float>(sign | m);
        }
        check_all_k(x, w);
    }
    for (const unsigned low : {1u, 8u, 9u, 19u, 30u, 41u, 52u, 55u}) {
        CAPTURE(low);
        std::vector<double> x(4099);
        for (auto& v : x) {
            const std::uint64_t r = rng();
            const std::uint64_t m =
                0x3ff0'0000'0000'0000ull | (r & ((std::uint64_t{1} << low) - 1));
            v = from_bits<std::uint64_t, double>((r & 0x8000'0000'0000'0000ull) | m);
        }
        check_all_k(x, w);
    }
    SECTION("double ranks by the double magnitude, not a rounded one") {
        const std::vector<double> x = {1.0, 1.0 + 0x1p-52, 1.0 + 0x1p-51, 0.5, -(1.0 + 0x1p-52)};
        std::vector<std::uint32_t> got(2);
        kernels::top_k_indices(std::span<const double>(x), std::span<std::uint32_t>(got), w);
        CHECK(got == std::vector<std::uint32_t>{1, 2});
        check_all_k(x, w);
    }
}

TEST_CASE("top_k_indices reads unaligned spans and reuses a workspace of any size",
          "[kernels][select]") {
    kernels::select_workspace w;
    const auto big = tv::make<float>(tv::shape::heavy_tailed, 100001, 3);
    const auto small = tv::make<float>(tv::shape::gaussian, 65, 4);
    for (int round = 0; round < 2; ++round) { // large, small, large, small: no stale state
        check(std::span<const float>(big).subspan(1), {1, 1000, 99999}, w);
        check(std::span<const float>(small).subspan(1), {1, 7, 63}, w);
    }
    const auto d = tv::make<double>(tv::shape::gaussian, 4100, 6);
    check(std::span<const double>(d).subspan(1), {1, 41, 4098}, w);
}

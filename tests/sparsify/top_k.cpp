// SPDX-License-Identifier: MIT
// sparsify::top_k through the pipeline (OPERATORS.md A.4, A.13): the kept set is exactly the k
// largest magnitudes with ties to the lowest index, the contraction
// ||C(x) - x||^2 <= (1 - k/n) ||x||^2 holds pointwise (with equality for flat vectors), and a
// top_k + bitpack message is the 48-byte header plus exactly ceil(k (32 + ceil(log2 n)) / 8) bytes.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using topk_fp32 = pipeline<sparsify::top_k, quantize::identity, encode::bitpack>;

/// Smallest b with 2^b >= n (0 for n <= 1): the index width of A.13, computed without the library.
unsigned ceil_log2(std::size_t n) {
    unsigned b = 0;
    while ((std::size_t{1} << b) < n)
        ++b;
    return b;
}

/// Bits [pos, pos + bits) of a little-endian, LSB-first stream (bit j is bit j % 8 of byte j / 8).
std::uint64_t field(std::span<const std::byte> p, std::size_t pos, unsigned bits) {
    std::uint64_t v = 0;
    for (unsigned j = 0; j < bits; ++j) {
        const std::size_t at = pos + j;
        v |= std::uint64_t{(std::to_integer<unsigned>(p[at / 8]) >> (at % 8)) & 1u} << j;
    }
    return v;
}

/// The coordinates a top_k + identity + bitpack message carries, read from the documented layout
/// (per entry: ceil(log2 n)-bit index, then the 32-bit value).
std::vector<std::uint32_t> sent_indices(std::span<const std::byte> msg, std::size_t n,
                                        std::size_t k) {
    const auto payload = msg.subspan(message_header::size);
    const unsigned ib = ceil_log2(n);
    std::vector<std::uint32_t> idx(k);
    for (std::size_t j = 0; j < k; ++j)
        idx[j] = static_cast<std::uint32_t>(field(payload, j * (ib + 32), ib));
    return idx;
}

/// Reference top-k, written independently of the library: a stable sort by decreasing |x_i| keeps
/// equal magnitudes in index order, so the lowest indices win ties. Returned ascending.
template <class T>
std::vector<std::uint32_t> reference_top_k(const std::vector<T>& x, std::size_t k) {
    std::vector<std::uint32_t> order(x.size());
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::abs(x[a]) > std::abs(x[b]);
    });
    order.resize(std::min(k, x.size()));
    std::sort(order.begin(), order.end());
    return order;
}

template <class P, class T>
std::vector<T> decode(P& p, std::span<const std::byte> msg, std::size_t n) {
    std::vector<T> out(n, T{-7}); // sentinel: decompress must overwrite every entry
    p.decompress(msg, std::span<T>(out));
    return out;
}

template <class T>
bool same_bits(T a, T b) {
    if constexpr (sizeof(T) == 4)
        return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
    else
        return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

/// Checks one compression of x with k kept: sent set == reference set, decoded values are x_i
/// (rounded to binary32) on the set and +0 elsewhere, and the payload has the exact A.13 size.
template <class T>
void check_exact(const std::vector<T>& x, std::size_t k_param) {
    const std::size_t n = x.size(), k = std::min(k_param, n);
    topk_fp32 p(sparsify::top_k{.ratio = 0.01, .k = k_param});
    REQUIRE(p.sparsifier().kept(n) == k);
    const auto msg = p.compress(std::span<const T>(x));
    REQUIRE(msg.size() == message_header::size + (k * (32 + ceil_log2(n)) + 7) / 8);
    const auto expect = reference_top_k(x, k);
    CHECK(sent_indices(msg, n, k) == expect);
    const auto out = decode<topk_fp32, T>(p, msg, n);
    std::size_t bad = 0, first_bad = n;
    for (std::size_t i = 0, j = 0; i < n; ++i) {
        const bool kept = j < expect.size() && expect[j] == i;
        const T want = kept ? static_cast<T>(static_cast<float>(x[i])) : T{0};
        if (!same_bits(out[i], want)) {
            ++bad;
            first_bad = std::min(first_bad, i);
        }
        j += kept;
    }
    INFO("first wrong coordinate " << first_bad);
    CHECK(bad == 0);
}

} // namespace

static_assert(has_alpha<recipes::top_k> && has_eta<recipes::top_k>);
static_assert(!recipes::top_k::unbiased);

TEST_CASE("top_k in EF-BV's class: eta = sqrt(1 - k/n), omega = 0", "[sparsify][top_k][theory]") {
    // Deterministic: E C(x) = C(x), so ||E C(x) - x||^2 <= (1 - k/n) ||x||^2 and no variance.
    const recipes::top_k p(sparsify::top_k{.ratio = 0.1});
    CHECK(p.eta(1000) == std::sqrt(1 - 0.1));
    CHECK(p.omega(1000) == 0.0);
    CHECK(p.eta(1) == 0.0);
}

TEST_CASE("top_k keeps exactly the k largest magnitudes on every test shape",
          "[sparsify][top_k][exact]") {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {1u, 2u, 7u, 64u, 257u})
            for (const std::size_t k :
                 {std::size_t{1}, std::size_t{3}, n / 4 + 1, n - 1, n, n + 5}) {
                if (k == 0)
                    continue;
                CAPTURE(tv::name(s), n, k);
                check_exact(tv::make<float>(s, n, 1000 + n), k);
                check_exact(tv::make<double>(s, n, 2000 + n), k);
            }
}

TEST_CASE("top_k breaks magnitude ties by the lowest index", "[sparsify][top_k][exact]") {
    // |x| = 3 at indices 1, 2, 4, 5, 7 (both signs), 2 at 0, 1 at 3, 0.5 at 6.
    const std::vector<float> x = {2, -3, 3, 1, -3, 3, 0.5f, 3};
    for (std::size_t k = 1; k <= x.size(); ++k) {
        CAPTURE(k);
        check_exact(x, k);
        check_exact(std::vector<double>(x.begin(), x.end()), k);
    }
    SECTION("spelled out") {
        topk_fp32 p(sparsify::top_k{.k = 3});
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(sent_indices(msg, x.size(), 3) == std::vector<std::uint32_t>{1, 2, 4});
        topk_fp32 q(sparsify::top_k{.k = 6});
        const auto msg6 = q.compress(std::span<const float>(x));
        CHECK(sent_indices(msg6, x.size(), 6) == std::vector<std::uint32_t>{0, 1, 2, 4, 5, 7});
    }
    SECTION("+0 and -0 tie; the lowest index wins") {
        const std::vector<float> z = {0.0f, -0.0f, 0.0f, -0.0f};
        topk_fp32 p(sparsify::top_k{.k = 2});
        const auto msg = p.compress(std::span<const float>(z));
        CHECK(sent_indices(msg, z.size(), 2) == std::vector<std::uint32_t>{0, 1});
        const auto out = decode<topk_fp32, float>(p, msg, z.size());
        CHECK(std::signbit(out[1]));  // the kept -0 travels as -0
        CHECK(!std::signbit(out[3])); // dropped coordinates decode to +0
    }
    SECTION("all equal, long vector: the first k") {
        const std::vector<float> flat(1000, -1.5f);
        topk_fp32 p(sparsify::top_k{.k = 37});
        const auto msg = p.compress(std::span<const float>(flat));
        std::vector<std::uint32_t> first(37);
        std::iota(first.begin(), first.end(), std::uint32_t{0});
        CHECK(sent_indices(msg, flat.size(), 37) == first);
    }
}

TEST_CASE("top_k on double input ranks by the double magnitude, not the rounded one",
          "[sparsify][top_k][exact]") {
    // All three round to 1.0f; in double, index 1 is the largest, then index 2.
    const std::vector<double> x = {1.0, 1.0 + 0x1p-40, 1.0 + 0x1p-41, 0.5};
    topk_fp32 p(sparsify::top_k{.k = 1});
    const auto msg = p.compress(std::span<const double>(x));
    CHECK(sent_indices(msg, x.size(), 1) == std::vector<std::uint32_t>{1});
    topk_fp32 q(sparsify::top_k{.k = 2});
    const auto msg2 = q.compress(std::span<const double>(x));
    CHECK(sent_indices(msg2, x.size(), 2) == std::vector<std::uint32_t>{1, 2});
    const auto out = decode<topk_fp32, double>(q, msg2, x.size());
    CHECK(out == std::vector<double>{0.0, 1.0, 1.0, 0.0}); // values travel as binary32
}

TEST_CASE("top_k ratio and k parameters", "[sparsify][top_k][param]") {
    struct row {
        double ratio;
        std::size_t n, k;
    };
    // k = ceil(ratio n), at least 1, at most n; 0.1 * 30 and 0.3 * 10 are 3 despite binary
    // rounding.
    const row rows[] = {{0.1, 30, 3},    {0.1, 31, 4},  {0.3, 10, 3},   {0.25, 64, 16},
                        {1e-9, 50, 1},   {1.0, 17, 17}, {0.5, 1, 1},    {0.01, 1000, 10},
                        {0.999, 10, 10}, {0.5, 0, 0},   {0.07, 100, 7}, {0.333, 3, 1}};
    for (const row& r : rows) {
        CAPTURE(r.ratio, r.n, r.k);
        const sparsify::top_k s{.ratio = r.ratio};
        CHECK(s.kept(r.n) == r.k);
        topk_fp32 p(s);
        const auto x = tv::make<float>(tv::shape::gaussian, r.n, 5);
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size + (r.k * (32 + ceil_log2(r.n)) + 7) / 8);
        CHECK(p.alpha(r.n) ==
              (r.n == 0 ? 1.0 : static_cast<double>(r.k) / static_cast<double>(r.n)));
    }
    SECTION("k overrides ratio and is capped at n") {
        CHECK(sparsify::top_k{.ratio = 0.5, .k = 3}.kept(100) == 3);
        CHECK(sparsify::top_k{.ratio = 0.5, .k = 1000}.kept(10) == 10);
        CHECK(sparsify::top_k{.ratio = 0.0, .k = 4}.kept(10) == 4); // ratio unused, so not checked
        CHECK_NOTHROW(topk_fp32(sparsify::top_k{.ratio = 0.0, .k = 4}));
    }
    SECTION("k >= n keeps everything: C(x) = x") {
        const auto x = tv::make<float>(tv::shape::heavy_tailed, 33, 9);
        topk_fp32 p(sparsify::top_k{.k = 33 + 100});
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(decode<topk_fp32, float>(p, msg, x.size()) == x);
        CHECK(p.alpha(33) == 1.0);
    }
}

TEST_CASE("top_k rejects a ratio outside 0 < ratio <= 1 with invalid_parameter",
          "[sparsify][top_k][param]") {
    const double bad[] = {0.0,
                          -0.25,
                          1.0000001,
                          1.5,
                          std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity(),
                          -0.0};
    for (const double r : bad) {
        CAPTURE(r);
        CHECK_THROWS_AS(topk_fp32(sparsify::top_k{.ratio = r}), invalid_parameter);
        CHECK_THROWS_WITH(topk_fp32(sparsify::top_k{.ratio = r}),
                          Catch::Contains("top_k: ratio must be in (0, 1]") &&
                              Catch::Contains("got"));
        CHECK_THROWS_AS(recipes::topk_qsgd(sparsify::top_k{.ratio = r}), invalid_parameter);
    }
    CHECK_THROWS_WITH(topk_fp32(sparsify::top_k{.ratio = std::numeric_limits<double>::quiet_NaN()}),
                      Catch::Contains("nan"));
    CHECK_NOTHROW(topk_fp32(sparsify::top_k{.ratio = 1.0}));
    CHECK_NOTHROW(topk_fp32(sparsify::top_k{.ratio = 1e-300}));
}

TEST_CASE("top_k contraction: ||C(x) - x||^2 <= (1 - k/n) ||x||^2 pointwise, equality when flat",
          "[sparsify][top_k][theory]") {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {64u, 256u, 1000u})
            for (const std::size_t k : {std::size_t{1}, n / 8, n / 2, n - 1}) {
                CAPTURE(tv::name(s), n, k);
                const auto x = tv::make<float>(s, n, 77 * n + k);
                topk_fp32 p(sparsify::top_k{.k = k});
                const auto out =
                    decode<topk_fp32, float>(p, p.compress(std::span<const float>(x)), n);
                double err = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double d = static_cast<double>(out[i]) - static_cast<double>(x[i]);
                    err += d * d; // each d is 0 or -x_i: its square is exact in double
                }
                const double norm2 = tv::norm2(x);
                const double alpha = static_cast<double>(k) / static_cast<double>(n);
                REQUIRE(p.alpha(n) == alpha);
                // Both sums add n exact, nonnegative squares in double: relative error <= n 2^-53
                // each, so the comparison gets 2 n 2^-53 ||x||^2 of slack.
                const double tol = 2.0 * static_cast<double>(n) * 0x1p-53 * norm2;
                CHECK(err <= (1 - alpha) * norm2 + tol);
                if (s == tv::shape::flat) // every square is 1.0: both sides are exact integers
                    CHECK(err == static_cast<double>(n - k));
                if (s == tv::shape::gaussian) // distinct magnitudes: strictly better than (1 - k/n)
                    CHECK(err < (1 - alpha) * norm2 - tol);
                if (s == tv::shape::one_hot || s == tv::shape::zero)
                    CHECK(err == 0.0);
            }
}

TEST_CASE("top_k message size is the header plus ceil(k (32 + ceil(log2 n)) / 8) bytes",
          "[sparsify][top_k][bits]") {
    for (const std::size_t n : {0u, 1u, 2u, 3u, 63u, 64u, 65u, 1000u, 1024u, 1025u, 70000u})
        for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{7}, n / 3 + 1, n}) {
            const std::size_t kk = std::min(k, n);
            CAPTURE(n, k);
            topk_fp32 p(sparsify::top_k{.k = k});
            const std::size_t want = message_header::size + (kk * (32 + ceil_log2(n)) + 7) / 8;
            CHECK(p.max_message_size(n) == want); // fixed-width encoder: the bound is exact
            const auto x = tv::make<float>(tv::shape::gaussian, n, n + 3);
            CHECK(p.compress(std::span<const float>(x)).size() == want);
        }
    // The named recipe is this composition.
    recipes::top_k r(sparsify::top_k{.k = 10});
    const auto x = tv::make<float>(tv::shape::gaussian, 1000, 1);
    CHECK(r.compress(std::span<const float>(x)).size() == 48 + (10 * (32 + 10) + 7) / 8);
}

TEST_CASE("top_k edge cases: empty, one element, NaN and infinities", "[sparsify][top_k][edge]") {
    SECTION("n = 0: a bare header, decoding into an empty span") {
        topk_fp32 p(sparsify::top_k{.ratio = 0.5});
        const std::vector<float> x;
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size);
        std::vector<float> out;
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
    SECTION("n = 1: the value is kept whatever the ratio") {
        topk_fp32 p(sparsify::top_k{.ratio = 0.001});
        const std::vector<float> x = {-2.5f};
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size + 4); // 0 index bits + 32 value bits
        CHECK(decode<topk_fp32, float>(p, msg, 1) == x);
    }
    SECTION("documented: NaN magnitudes rank above +inf, so NaNs are kept first") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const std::vector<float> x = {1.0f, -inf, 3.0f, nan, 2.0f, inf, -nan, 1e38f};
        for (std::size_t k = 1; k <= x.size(); ++k) {
            CAPTURE(k);
            topk_fp32 p(sparsify::top_k{.k = k});
            const auto msg = p.compress(std::span<const float>(x));
            auto idx = sent_indices(msg, x.size(), k);
            // NaNs (3, 6) first, then the infinities (1, 5; -inf ties +inf, lowest index first),
            // then 1e38 (7), 3 (2), 2 (4), 1 (0).
            const std::uint32_t rank[] = {3, 6, 1, 5, 7, 2, 4, 0};
            std::vector<std::uint32_t> want(rank, rank + k);
            std::sort(want.begin(), want.end());
            CHECK(idx == want);
            const auto out = decode<topk_fp32, float>(p, msg, x.size());
            for (std::uint32_t i : want) {
                if (std::isnan(x[i]))
                    CHECK(std::isnan(out[i]));
                else
                    CHECK(out[i] == x[i]);
            }
        }
    }
    SECTION("NaN and inf in double input") {
        const double inf = std::numeric_limits<double>::infinity();
        const std::vector<double> x = {1.0, std::numeric_limits<double>::quiet_NaN(), -inf, 0.0};
        topk_fp32 p(sparsify::top_k{.k = 2});
        const auto msg = p.compress(std::span<const double>(x));
        CHECK(sent_indices(msg, x.size(), 2) == std::vector<std::uint32_t>{1, 2});
        const auto out = decode<topk_fp32, double>(p, msg, x.size());
        CHECK(std::isnan(out[1]));
        CHECK(out[2] == -inf);
    }
}

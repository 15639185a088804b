// SPDX-License-Identifier: MIT
// Conformance, part 1: what every composition must do with valid messages.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "conformance/compositions.hpp"
#include "support/vectors.hpp"

using namespace commpress;
using commpress::testing::compositions;
using commpress::testing::make;
using commpress::testing::shape;

namespace {

template <class T>
double dist2(std::span<const T> a, std::span<const T> b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    return s;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Compositions that draw random numbers (the rest are deterministic functions of x).
template <class P>
constexpr bool deterministic_quantizer =
    std::is_same_v<typename P::quantizer_type, quantize::identity> ||
    std::is_same_v<typename P::quantizer_type, quantize::fp16> ||
    std::is_same_v<typename P::quantizer_type, quantize::bf16> ||
    std::is_same_v<typename P::quantizer_type, quantize::scaled_sign> ||
    std::is_same_v<typename P::quantizer_type, quantize::sign> ||
    std::is_same_v<typename P::quantizer_type, quantize::onebit> ||
    std::is_same_v<typename P::quantizer_type, quantize::uniform>;
template <class P>
constexpr bool deterministic_sparsifier =
    std::is_same_v<typename P::sparsifier_type, sparsify::identity> ||
    std::is_same_v<typename P::sparsifier_type, sparsify::top_k> ||
    std::is_same_v<typename P::sparsifier_type, sparsify::dgc_top_k> ||
    std::is_same_v<typename P::sparsifier_type, sparsify::threshold>;
template <class P>
constexpr bool randomized = !deterministic_sparsifier<P> || !deterministic_quantizer<P>;

// Messages of one size for every input: fixed-width fields and a fixed kept count.
constexpr bool fixed_width(auto& p) {
    using P = std::remove_cvref_t<decltype(p)>;
    using E = typename P::encoder_type;
    return (std::is_same_v<E, encode::raw> ||
            std::is_same_v<E, encode::bitpack>)&&!P::variable_count;
}

template <class P, class T>
void round_trip_within_theory(shape sh, std::size_t n) {
    INFO("shape " << commpress::testing::name(sh) << ", n = " << n);
    const auto x = commpress::testing::make<T>(sh, n, 7);
    const double xx = commpress::testing::norm2(x);
    auto p = make<P>();
    std::vector<T> out(n);
    if constexpr (P::unbiased) {
        // Mean of N independent messages: E||mean - x||^2 = E||C(x) - x||^2 / N <= omega ||x||^2/N.
        // Markov: P(||mean - x||^2 > 25 omega ||x||^2 / N) <= 1/25, whatever the distribution; the
        // tight per-operator checks live in tests/sparsify and tests/quantize.
        constexpr int trials = 400;
        std::vector<double> mean(n, 0.0);
        for (int t = 0; t < trials; ++t) {
            p.decompress(std::span<const std::byte>(p.compress(std::span<const T>(x))),
                         std::span<T>(out));
            for (std::size_t i = 0; i < n; ++i)
                mean[i] += double(out[i]) / trials;
        }
        double err = 0;
        for (std::size_t i = 0; i < n; ++i)
            err += (mean[i] - double(x[i])) * (mean[i] - double(x[i]));
        // + 1e-9 ||x||^2: float rounding of the decoded values (binary32 on the wire).
        CHECK(err <= 25.0 * p.omega(n) * xx / trials + 1e-9 * xx);
    } else if constexpr (has_alpha<P> || has_eta<P>) {
        // The error constant: 1 - alpha in B(alpha); eta^2 + omega in C(eta, omega), since
        // E||C(x) - x||^2 = ||E C(x) - x||^2 + E||C(x) - E C(x)||^2.
        double bound = 0;
        if constexpr (has_alpha<P>)
            bound = 1 - p.alpha(n);
        else
            bound = p.eta(n) * p.eta(n) + p.omega(n);
        if constexpr (!randomized<P>) {
            // Deterministic stages contract pointwise: ||C(x) - x||^2 <= (1 - alpha)||x||^2.
            // 1e-6 ||x||^2 covers the binary32 rounding of scales and values (relative 2^-24).
            p.decompress(std::span<const std::byte>(p.compress(std::span<const T>(x))),
                         std::span<T>(out));
            CHECK(dist2<T>(out, x) <= bound * xx + 1e-6 * xx);
        } else {
            // Random stages contract in mean: E e <= bound ||x||^2 for the per-trial error
            // e = ||C(x) - x||^2. By the CLT the mean of N = 1000 independent trials exceeds E e
            // by more than 6 sd / sqrt(N) (sd the sample standard deviation of e) with
            // probability ~1e-9; 1e-6 ||x||^2 covers binary32 rounding.
            constexpr int trials = 1000;
            double sum = 0, sum2 = 0;
            for (int t = 0; t < trials; ++t) {
                p.decompress(std::span<const std::byte>(p.compress(std::span<const T>(x))),
                             std::span<T>(out));
                const double e = dist2<T>(out, x);
                sum += e;
                sum2 += e * e;
            }
            const double mean = sum / trials;
            const double sd = std::sqrt(std::max(0.0, sum2 / trials - mean * mean));
            CHECK(mean <= bound * xx + 6 * sd / std::sqrt(double(trials)) + 1e-6 * xx);
        }
    } else {
        // No theory constant (e.g. clipped TernGrad): the message still decodes, to finite
        // values for finite input; the other conformance checks apply in full.
        p.decompress(std::span<const std::byte>(p.compress(std::span<const T>(x))),
                     std::span<T>(out));
        for (T v : out)
            CHECK(std::isfinite(v));
    }
}

} // namespace

TEMPLATE_LIST_TEST_CASE("conformance: round trip within the composition's theory", "[conformance]",
                        compositions) {
    for (shape sh :
         {shape::flat, shape::one_hot, shape::gaussian, shape::heavy_tailed, shape::zero}) {
        round_trip_within_theory<TestType, float>(sh, 1000);
        round_trip_within_theory<TestType, double>(sh, 257);
    }
}

TEMPLATE_LIST_TEST_CASE("conformance: message size is max_message_size, exactly for fixed-width "
                        "encoders",
                        "[conformance]", compositions) {
    for (std::size_t n : {0u, 1u, 2u, 7u, 64u, 1000u, 4099u}) {
        auto p = make<TestType>();
        const auto x = commpress::testing::make<float>(shape::gaussian, n, 3);
        const auto msg = p.compress(std::span<const float>(x));
        INFO("n = " << n << ", " << p.describe());
        CHECK(msg.size() <= p.max_message_size(n));
        if (fixed_width(p))
            CHECK(msg.size() == p.max_message_size(n));
        CHECK(msg.size() >= message_header::size);
    }
}

TEMPLATE_LIST_TEST_CASE("conformance: the same seed gives the same bytes", "[conformance]",
                        compositions) {
    const auto x = commpress::testing::make<float>(shape::gaussian, 999, 5);
    auto a = make<TestType>(42, 3), b = make<TestType>(42, 3);
    for (int step = 0; step < 3; ++step) {
        const auto ma = a.compress(std::span<const float>(x));
        const auto mb = b.compress(std::span<const float>(x));
        CHECK(ma == mb);
    }
    // A different seed is a different configuration: the fingerprint changes.
    CHECK(make<TestType>(43, 3).fingerprint() != a.fingerprint());
    // With a caller buffer the bytes are the same as with the allocating overload.
    auto c = make<TestType>(42, 3);
    const auto expected = c.compress(std::span<const float>(x));
    std::vector<std::byte> buf(c.max_message_size(x.size()) + 5, std::byte{0x77});
    auto d = make<TestType>(42, 3);
    const std::size_t used = d.compress(std::span<const float>(x), std::span<std::byte>(buf));
    CHECK(std::vector<std::byte>(buf.begin(), buf.begin() + long(used)) == expected);
}

TEMPLATE_LIST_TEST_CASE("conformance: decompress_add equals decompress then add, bit for bit",
                        "[conformance]", compositions) {
    auto run = [](auto zero) {
        using T = decltype(zero);
        const auto x = commpress::testing::make<T>(shape::heavy_tailed, 777, 9);
        auto worker = make<TestType>(42, 5), server = make<TestType>(42, 0);
        const auto msg = worker.compress(std::span<const T>(x));
        std::vector<T> acc(x.size()), expected(x.size()), out(x.size());
        for (std::size_t i = 0; i < acc.size(); ++i)
            acc[i] = expected[i] = T(0.25) * T(i % 13);
        const T w = T(0.37);
        server.decompress(std::span<const std::byte>(msg), std::span<T>(out));
        for (std::size_t i = 0; i < acc.size(); ++i)
            expected[i] += w * out[i];
        server.decompress_add(std::span<const std::byte>(msg), std::span<T>(acc), w);
        CHECK(bitwise_equal(acc, expected));
    };
    run(0.0f);
    run(0.0);
}

TEMPLATE_LIST_TEST_CASE("conformance: decompress overwrites every coordinate of its output",
                        "[conformance]", compositions) {
    // Decoders skip what the message does not carry (dropped zero codes, unsent coordinates),
    // so decompress must clear first: into a buffer of stale values it gives what it gives into
    // zeros. The Gaussian vector makes QSGD-like quantizers send many zero codes.
    const auto x = commpress::testing::make<float>(shape::gaussian, 777, 12);
    auto worker = make<TestType>(42, 5), server = make<TestType>(42, 0);
    const auto msg = worker.compress(std::span<const float>(x));
    std::vector<float> clean(x.size(), 0.0f), stale(x.size(), 7.25f);
    server.decompress(std::span<const std::byte>(msg), std::span<float>(clean));
    server.decompress(std::span<const std::byte>(msg), std::span<float>(stale));
    CHECK(bitwise_equal(stale, clean));
}

TEMPLATE_LIST_TEST_CASE("conformance: edge cases n = 0, n = 1, non-finite inputs", "[conformance]",
                        compositions) {
    auto p = make<TestType>();
    for (std::size_t n : {0u, 1u}) {
        const std::vector<float> x(n, 2.5f);
        std::vector<float> out(n, -1.0f);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                     std::span<float>(out));
        if (n == 1) // one element is always kept; every quantizer is exact or unbiased around it
            CHECK(std::isfinite(out[0]));
    }
    // NaN and inf: documented per operator (docs/operators.md); here only: no crash, no UB (the
    // sanitizer run executes this), and the message decodes.
    std::vector<float> x = commpress::testing::make<float>(shape::gaussian, 300, 1);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[7] = std::numeric_limits<float>::infinity();
    x[9] = -std::numeric_limits<float>::infinity();
    std::vector<float> out(x.size());
    CHECK_NOTHROW(p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                               std::span<float>(out)));
}

TEST_CASE("conformance: recipes::fp32 is lossless and passes NaN and inf through",
          "[conformance]") {
    auto p = recipes::fp32{};
    std::vector<float> x = {1.5f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), 1e-45f};
    std::vector<float> out(x.size());
    p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                 std::span<float>(out));
    CHECK(std::memcmp(x.data(), out.data(), x.size() * sizeof(float)) == 0);
}

// SPDX-License-Identifier: MIT
// Synthetic data: the same bytes for a seed (pinned values), Gaussian features, labels from the
// planted vector with the requested flip rate, regression targets that x* fits.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/least_squares.hpp>
#include <commpress/experiment/synthetic.hpp>

namespace ex = commpress::experiment;

namespace {

bool same_bytes(const ex::dataset& a, const ex::dataset& b) {
    return a.rows == b.rows && a.cols == b.cols && a.features.size() == b.features.size() &&
           a.labels.size() == b.labels.size() &&
           std::memcmp(a.features.data(), b.features.data(), a.features.size() * sizeof(float)) ==
               0 &&
           std::memcmp(a.labels.data(), b.labels.data(), a.labels.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("portable_log agrees with std::log to a few ulp", "[experiment][synthetic]") {
    std::uint64_t seed = 3;
    for (int i = 0; i < 20000; ++i) {
        // (0, 1] as the polar method uses it, then magnitudes 2^-60 .. 2^60.
        double x = ex::detail::splitmix_unit(seed);
        if (x == 0)
            continue;
        if (i % 2 == 1)
            x = std::ldexp(x, static_cast<int>(ex::detail::splitmix_below(seed, 121)) - 60);
        const double expected = std::log(x);
        const double ulp = std::nextafter(std::abs(expected), HUGE_VAL) - std::abs(expected);
        INFO("x = " << x);
        // The series and the final sum round a handful of times: 3 ulp at most over 2e6 draws.
        CHECK(std::abs(ex::detail::portable_log(x) - expected) <= 4 * ulp);
    }
    CHECK(ex::detail::portable_log(1.0) == 0.0);
    CHECK(ex::detail::portable_log(2.0) == Approx(std::log(2.0)).epsilon(1e-16));
}

TEST_CASE("synthetic data sets are the same bytes for a seed and differ across seeds",
          "[experiment][synthetic]") {
    const auto a = ex::synthetic_classification(300, 17, 42, 0.1);
    CHECK(same_bytes(a, ex::synthetic_classification(300, 17, 42, 0.1)));
    CHECK_FALSE(same_bytes(a, ex::synthetic_classification(300, 17, 43, 0.1)));
    const auto r = ex::synthetic_regression(300, 17, 42, 0.5);
    CHECK(same_bytes(r, ex::synthetic_regression(300, 17, 42, 0.5)));
    CHECK_FALSE(same_bytes(r, ex::synthetic_regression(300, 17, 43, 0.5)));
    CHECK(ex::synthetic_weights(17, 42) == ex::synthetic_weights(17, 42));
    CHECK(ex::synthetic_weights(17, 42) != ex::synthetic_weights(17, 43));

    // Pinned values (GCC 12 -O0 and -O2, clang 14 -O2 agree): the generator uses only
    // splitmix64, IEEE basic arithmetic, sqrt and frexp, so these bits hold on every platform.
    // A change here changes every experiment on synthetic data.
    const auto w = ex::synthetic_weights(3, 42);
    CHECK(w == std::vector<float>{-0x1.fef7f6p-4f, 0x1.7381a8p-2f, -0x1.8867bcp-6f});
    CHECK(std::vector<float>(a.features.begin(), a.features.begin() + 4) ==
          std::vector<float>{0x1.2a067cp-4f, 0x1.fe311cp+0f, 0x1.3f593cp+0f, -0x1.d37fap+0f});
    CHECK(std::vector<float>(a.labels.begin(), a.labels.begin() + 8) ==
          std::vector<float>{-1, -1, -1, -1, -1, 1, -1, -1});
    CHECK(r.labels[0] == 0x1.c2fafap+1f);
}

TEST_CASE("synthetic features are standard normal", "[experiment][synthetic]") {
    const auto d = ex::synthetic_classification(2000, 100, 7);
    const double n = static_cast<double>(d.features.size()); // 2e5 draws
    double sum = 0, sum2 = 0, inside = 0;
    for (float v : d.features) {
        sum += v;
        sum2 += static_cast<double>(v) * v;
        inside += std::abs(v) < 1 ? 1 : 0;
    }
    // Tolerances are 5 standard deviations of each statistic of n i.i.d. N(0, 1) draws:
    // mean: 1/sqrt(n) = 2.2e-3; mean square: sqrt(2/n) = 3.2e-3; P(|z| < 1) = 0.6827:
    // sqrt(0.6827 * 0.3173 / n) = 1.0e-3. (A uniform with variance 1 has P(|z| < 1) = 0.577.)
    CHECK(std::abs(sum / n) <= 5 * 2.2e-3);
    CHECK(std::abs(sum2 / n - 1) <= 5 * 3.2e-3);
    CHECK(std::abs(inside / n - 0.6827) <= 5 * 1.0e-3);
}

TEST_CASE("synthetic_classification: labels are the planted sign, flipped at the requested rate",
          "[experiment][synthetic]") {
    const std::size_t rows = 20000, cols = 30;
    const auto clean = ex::synthetic_classification(rows, cols, 11);
    const auto w = ex::synthetic_weights(cols, 11);
    std::size_t positive = 0;
    for (std::size_t j = 0; j < rows; ++j) {
        const double m = ex::detail::dot(clean.row(j).data(), w.data(), cols);
        CHECK(clean.labels[j] == (m >= 0 ? 1.0f : -1.0f));
        positive += clean.labels[j] > 0 ? 1 : 0;
    }
    // Without a bias the margin is symmetric: Binomial(20000, 1/2), sd 70.7; 5 sd = 354.
    CHECK(std::abs(static_cast<double>(positive) - 10000.0) <= 354);

    const double flip = 0.1;
    const auto noisy = ex::synthetic_classification(rows, cols, 11, flip);
    CHECK(noisy.features == clean.features); // the flip draws do not shift the features
    std::size_t flipped = 0;
    for (std::size_t j = 0; j < rows; ++j) {
        CHECK((noisy.labels[j] == 1.0f || noisy.labels[j] == -1.0f));
        flipped += noisy.labels[j] != clean.labels[j] ? 1 : 0;
    }
    // Flips are Binomial(20000, 0.1): mean 2000, sd sqrt(20000 * 0.1 * 0.9) = 42.4; 5 sd = 212
    // (a 6e-7 chance of a false failure for a fair generator; flip rate 0.09 or 0.11 fails).
    CHECK(std::abs(static_cast<double>(flipped) - rows * flip) <= 212);

    const auto all = ex::synthetic_classification(500, cols, 11, 1.0);
    for (std::size_t j = 0; j < 500; ++j)
        CHECK(all.labels[j] == -clean.labels[j]);
}

TEST_CASE("synthetic bias column is constant 1", "[experiment][synthetic]") {
    const auto d = ex::synthetic_classification(50, 6, 5, 0.0, /*bias_column=*/true);
    const auto w = ex::synthetic_weights(6, 5);
    for (std::size_t j = 0; j < 50; ++j) {
        CHECK(d.row(j)[5] == 1.0f);
        CHECK(d.row(j)[0] != 1.0f);
        const double m = ex::detail::dot(d.row(j).data(), w.data(), 6); // includes the bias w_5
        CHECK(d.labels[j] == (m >= 0 ? 1.0f : -1.0f));
    }
    const auto r = ex::synthetic_regression(50, 6, 5, 0.0, true);
    for (std::size_t j = 0; j < 50; ++j)
        CHECK(r.row(j)[5] == 1.0f);
}

TEST_CASE("synthetic_regression: x* fits noiseless targets, noise has the requested size",
          "[experiment][synthetic]") {
    const std::size_t rows = 5000, cols = 20;
    const auto w = ex::synthetic_weights(cols, 8);
    const auto clean = ex::synthetic_regression(rows, cols, 8);
    ex::least_squares f(clean, {0, rows}, 0.0);
    std::vector<float> g(cols);
    f.loss_and_gradient(w, g);
    // The targets are float(a^T x*): residuals r_j = a^T x* - b_j with |r_j| <= 2^-24 |b_j|, and
    // grad f(x*) = A^T r / N has norm <= sqrt(lambda_max(A^T A / N)) ||r|| / sqrt(N)
    // <= sqrt(L) 2^-24 rms(b).
    double b2 = 0;
    for (float b : clean.labels)
        b2 += static_cast<double>(b) * b;
    const double bound = std::sqrt(f.smoothness()) * 0x1.0p-24 * std::sqrt(b2 / rows);
    double gn = 0;
    for (float v : g)
        gn += static_cast<double>(v) * v;
    CHECK(std::sqrt(gn) <= 1.01 * bound + 1e-12);

    const double noise = 0.5;
    const auto noisy = ex::synthetic_regression(rows, cols, 8, noise);
    CHECK(noisy.features == clean.features);
    double r2 = 0;
    for (std::size_t j = 0; j < rows; ++j) {
        const double r = static_cast<double>(noisy.labels[j]) - clean.labels[j];
        r2 += r * r;
    }
    // The sample variance of 5000 N(0, noise^2) draws: relative sd sqrt(2/5000) = 0.02; 5 sd.
    CHECK(r2 / rows / (noise * noise) == Approx(1.0).margin(0.1));
    ex::least_squares fn(noisy, {0, rows}, 0.0);
    fn.loss_and_gradient(w, g);
    gn = 0;
    for (float v : g)
        gn += static_cast<double>(v) * v;
    CHECK(std::sqrt(gn) > 100 * bound); // noise moves the minimiser away from x*
}

TEST_CASE("synthetic generators reject bad arguments", "[experiment][synthetic]") {
    CHECK_THROWS_AS(ex::synthetic_classification(10, 3, 1, 1.5), commpress::error);
    CHECK_THROWS_AS(ex::synthetic_classification(10, 3, 1, -0.1), commpress::error);
    CHECK_THROWS_AS(
        ex::synthetic_classification(10, 3, 1, std::numeric_limits<double>::quiet_NaN()),
        commpress::error);
    CHECK_THROWS_AS(ex::synthetic_classification(0, 3, 1), commpress::error);
    CHECK_THROWS_AS(ex::synthetic_classification(10, 0, 1), commpress::error);
    CHECK_THROWS_AS(ex::synthetic_classification(10, 1, 1, 0.0, true), commpress::error);
    CHECK_THROWS_AS(ex::synthetic_regression(10, 3, 1, -1.0), commpress::error);
    CHECK_THROWS_AS(ex::synthetic_regression(10, 3, 1, std::numeric_limits<double>::infinity()),
                    commpress::error);
}

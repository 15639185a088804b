// SPDX-License-Identifier: MIT
// Softmax regression: loss against a naive computation and against logistic regression at K = 2,
// gradient against finite differences, the smoothness bound, label checks, accuracy.
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/logistic_regression.hpp>
#include <commpress/experiment/simulator.hpp>
#include <commpress/experiment/softmax_regression.hpp>

namespace ex = commpress::experiment;

// What the simulator needs of a worker's f_i: dim() and loss_and_gradient(x, grad).
static_assert(ex::problem_part<ex::softmax_regression>);
using Catch::Matchers::Contains;

namespace {

/// Rows of "pixels" uniform in [0, 1] plus a bias 1, class labels uniform in 0..K-1.
ex::dataset pixels_data(std::size_t rows, std::size_t pixels, std::size_t classes,
                        std::uint64_t seed) {
    ex::dataset d;
    d.rows = rows;
    d.cols = pixels + 1;
    for (std::size_t j = 0; j < rows; ++j) {
        for (std::size_t k = 0; k < pixels; ++k)
            d.features.push_back(
                static_cast<float>(0.5 * (1.0 + ex::detail::splitmix_uniform(seed))));
        d.features.push_back(1.0f);
        d.labels.push_back(static_cast<float>(ex::detail::splitmix_below(seed, classes)));
    }
    return d;
}

/// Entries are multiples of 2^-10 in [-0.5, 0.5]: x_k ± 2^-10 is exact in float.
std::vector<float> grid_point(std::size_t d, std::uint64_t seed) {
    std::vector<float> x(d);
    for (float& v : x)
        v = std::ldexp(std::round(512.0 * ex::detail::splitmix_uniform(seed)), -10);
    return x;
}

double norm(const std::vector<double>& v) {
    double s = 0;
    for (double e : v)
        s += e * e;
    return std::sqrt(s);
}

template <class F>
std::string error_text(F f) {
    try {
        f();
    } catch (const commpress::error& e) {
        return e.what();
    }
    return "<no commpress::error thrown>";
}

} // namespace

TEST_CASE("softmax loss equals the naive cross-entropy, in loss() and loss_and_gradient()",
          "[experiment][softmax]") {
    const std::size_t K = 3;
    const auto data = pixels_data(25, 6, K, 4);
    const double lambda = 0.3;
    ex::softmax_regression f(data, {5, 20}, K, lambda);
    REQUIRE(f.dim() == K * 7);
    const auto x = grid_point(f.dim(), 9);
    double naive = 0;
    for (std::size_t j = 5; j < 25; ++j) {
        double sum_exp = 0, zy = 0;
        for (std::size_t c = 0; c < K; ++c) {
            double z = 0;
            for (std::size_t k = 0; k < 7; ++k)
                z += static_cast<double>(data.row(j)[k]) * x[c * 7 + k];
            sum_exp += std::exp(z);
            if (static_cast<float>(c) == data.labels[j])
                zy = z;
        }
        naive += std::log(sum_exp) - zy;
    }
    naive = naive / 20 + 0.5 * lambda * ex::softmax_regression::squared_norm(x);
    std::vector<float> g(f.dim());
    // Logits here are O(1): the naive sum loses nothing, so both agree to double rounding.
    CHECK(f.loss(x) == Approx(naive).epsilon(1e-13));
    CHECK(f.loss_and_gradient(x, g) == Approx(naive).epsilon(1e-13));
}

TEST_CASE("softmax with K = 2 at x = (w/2, -w/2) is logistic regression at w",
          "[experiment][softmax]") {
    // z_0 - z_1 = a^T w, so class 0's cross-entropy is log(1 + exp(-a^T w)) (logistic, b = +1)
    // and class 1's is log(1 + exp(a^T w)) (b = -1). The penalty (lambda/2) ||x||^2 =
    // (lambda/4) ||w||^2 is logistic's with lambda/2. With f_soft(x0, x1) = g(x0 - x1) + ..., the
    // gradient is (grad_log(w), -grad_log(w)), and the curvatures give L_soft = 2 L_log.
    const auto labelled = pixels_data(40, 9, 2, 21);
    ex::dataset pm = labelled; // the same rows with class 0 -> +1, class 1 -> -1
    for (float& b : pm.labels)
        b = b == 0 ? 1.0f : -1.0f;
    const double lambda = 0.2;
    ex::softmax_regression soft(labelled, {0, 40}, 2, lambda);
    ex::logistic_regression logistic(pm, {0, 40}, lambda / 2);
    const std::size_t d = logistic.dim();
    const auto w = grid_point(d, 3);
    std::vector<float> x(2 * d);
    for (std::size_t k = 0; k < d; ++k) {
        x[k] = w[k] / 2; // exact: halving a float
        x[d + k] = -w[k] / 2;
    }
    std::vector<float> gs(2 * d), gl(d);
    const double fs = soft.loss_and_gradient(x, gs), fl = logistic.loss_and_gradient(w, gl);
    CHECK(fs == Approx(fl).epsilon(1e-13));
    CHECK(soft.loss(x) == Approx(fl).epsilon(1e-13));
    for (std::size_t k = 0; k < d; ++k) {
        INFO("coordinate " << k);
        // Both are float roundings of the same double up to ~1e-16 relative: within 2 ulp.
        CHECK(gs[k] == Approx(gl[k]).epsilon(2e-7).margin(1e-9));
        CHECK(gs[d + k] == Approx(-gl[k]).epsilon(2e-7).margin(1e-9));
    }
    CHECK(soft.smoothness() == Approx(2 * logistic.smoothness()).epsilon(1e-12));
}

TEST_CASE("softmax gradient matches central finite differences of the loss",
          "[experiment][softmax]") {
    const std::size_t K = 4;
    const auto data = pixels_data(90, 20, K, 17);
    const auto parts = ex::split_rows(data.rows, 2);
    ex::softmax_regression f(data, parts[1], K, 1e-2);
    const std::size_t d = f.dim();
    const auto x = grid_point(d, 8);
    std::vector<float> g(d);
    const double loss = f.loss_and_gradient(x, g);
    CHECK(loss == Approx(f.loss(x)).epsilon(1e-13));

    // Tolerance. Central difference error = h^2/6 |d^3 f / dt^3| + rounding. Along x_{c,k} only
    // logit c moves, by a_k t: the third derivative of log-sum-exp in one logit is
    // p (1 - p)(1 - 2p), at most 1/(6 sqrt 3) < 0.1, times a_k^3 <= 1; the penalty has none. So
    // truncation <= h^2/6 * 0.1 = 1.6e-8 at h = 2^-10. The loss sums in double (~1e-14 relative
    // after ~100 terms): 1e-14 / (2h) = 5e-12. The float gradient: 6e-8 |g|. A wrong sign,
    // class or factor is >= 1e-3.
    const float h = 0x1.0p-10f;
    for (std::size_t k = 0; k < d; ++k) {
        auto xp = x, xm = x;
        xp[k] += h;
        xm[k] -= h;
        const double fd = (f.loss(xp) - f.loss(xm)) / (2.0 * h);
        INFO("coordinate " << k << " (class " << k / data.cols << ")");
        CHECK(std::abs(fd - g[k]) <= 1e-7 * (1.0 + std::abs(g[k])));
    }
}

TEST_CASE("softmax loss and gradient stay finite for huge logits", "[experiment][softmax]") {
    const auto data = pixels_data(20, 10, 3, 5);
    ex::softmax_regression f(data, {0, 20}, 3, 0.0);
    std::vector<float> x(f.dim(), 0.0f);
    for (std::size_t k = 0; k < data.cols; ++k) {
        x[k] = 1e4f; // class 0's logits ~ 5e4: exp() of them overflows
        x[2 * data.cols + k] = -1e4f;
    }
    std::vector<float> g(f.dim());
    const double loss = f.loss_and_gradient(x, g);
    CHECK(std::isfinite(loss));
    CHECK(std::isfinite(f.loss(x)));
    CHECK(f.loss(x) == Approx(loss).epsilon(1e-12));
    for (float v : g)
        CHECK(std::isfinite(v));
    // Rows not of class 0 cost about their logit gap to class 0 (~5e4): large, not inf.
    CHECK(loss > 1e3);
}

TEST_CASE("softmax L bounds the gradient's Lipschitz constant",
          "[experiment][softmax][smoothness]") {
    const std::size_t K = 5;
    const auto data = pixels_data(150, 15, K, 31);
    const double lambda = 1e-3;
    const auto ranges = ex::split_rows(data.rows, 3);
    std::vector<ex::softmax_regression> parts;
    for (const auto& r : ranges)
        parts.emplace_back(data, r, K, lambda);
    ex::softmax_regression whole(data, {0, data.rows}, K, lambda);
    // Equal chunks: the average of the parts is the whole, so the same Gram matrix and L.
    CHECK(ex::smoothness(parts) == Approx(whole.smoothness()).epsilon(1e-9));
    std::uint64_t seed = 99;
    for (auto* f : {&parts[0], &whole}) {
        const double L = f->smoothness();
        const std::size_t d = f->dim();
        for (int trial = 0; trial < 10; ++trial) {
            // Near points (where curvature is largest, logits ~ 0) and far ones.
            const float scale = trial % 2 == 0 ? 0.05f : 4.0f;
            auto x = grid_point(d, seed++), y = grid_point(d, seed++);
            for (std::size_t k = 0; k < d; ++k) {
                x[k] *= scale;
                y[k] *= scale;
            }
            std::vector<float> gx(d), gy(d);
            f->loss_and_gradient(x, gx);
            f->loss_and_gradient(y, gy);
            std::vector<double> dg(d), dx(d);
            for (std::size_t k = 0; k < d; ++k) {
                dg[k] = static_cast<double>(gx[k]) - gy[k];
                dx[k] = static_cast<double>(x[k]) - y[k];
            }
            // Float gradients add ~6e-8 |g| per entry, far below the margin 1e-6.
            INFO("trial " << trial);
            CHECK(norm(dg) <= L * norm(dx) + 1e-6);
        }
    }
}

TEST_CASE("softmax_regression rejects labels that are not class indices with a clear error",
          "[experiment][softmax]") {
    auto data = pixels_data(10, 3, 10, 1);
    CHECK_NOTHROW(ex::softmax_regression(data, {0, 10}, 10, 0.0));
    SECTION("a ±1 label") {
        data.labels[4] = -1.0f;
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 10, 0.0);
                   }),
                   Contains("row 4") && Contains("label -1") && Contains("0 to 9") &&
                       Contains("logistic_regression"));
    }
    SECTION("a fraction") {
        data.labels[7] = 2.5f;
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 10, 0.0);
                   }),
                   Contains("row 7") && Contains("label 2.5") && Contains("class index"));
    }
    SECTION("a class out of range") {
        data.labels[2] = 10.0f;
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 10, 0.0);
                   }),
                   Contains("row 2") && Contains("label 10") && Contains("0 to 9"));
        CHECK_NOTHROW(ex::softmax_regression(data, {3, 7}, 10, 0.0)); // only its rows count
    }
    SECTION("NaN") {
        data.labels[0] = std::numeric_limits<float>::quiet_NaN();
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 10, 0.0);
                   }),
                   Contains("row 0") && Contains("nan"));
    }
    SECTION("other parameters") {
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 1, 0.0);
                   }),
                   Contains("at least 2 classes"));
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {5, 6}, 10, 0.0);
                   }),
                   Contains("rows [5, 11)"));
        CHECK_THAT(error_text([&] {
                       ex::softmax_regression(data, {0, 10}, 10, -1.0);
                   }),
                   Contains("lambda"));
    }
}

TEST_CASE("multiclass_accuracy counts rows whose label is the argmax", "[experiment][softmax]") {
    ex::dataset data;
    data.rows = 4;
    data.cols = 2;
    data.features = {1, 0, 0, 1, 1, 1, 0, 0};
    data.labels = {0, 1, 2, 0};
    // Three classes: class c's weights x[2c], x[2c+1]. Logits: row 0 (1, 0, 0.5) -> 0;
    // row 1 (0, 2, 0.5) -> 1; row 2 (1, 2, 1) -> 1 (label 2: wrong); row 3 all 0 -> tie -> 0.
    const std::vector<float> x{1, 0, 0, 2, 0.5f, 0.5f};
    CHECK(ex::multiclass_accuracy(data, x) == Approx(0.75));
    data.labels[3] = 1; // the tie goes to class 0, not 1
    CHECK(ex::multiclass_accuracy(data, x) == Approx(0.5));
}

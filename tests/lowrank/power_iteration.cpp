// SPDX-License-Identifier: MIT
// lowrank::power_step: p q^T is the orthogonal projection of M on span(p) (so it never grows
// M, and projecting it again changes nothing), and warm-started steps converge to the best
// rank-r approximation (subspace iteration) on a matrix of known spectrum.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/seed.hpp>
#include <commpress/lowrank/power_iteration.hpp>

#include "lowrank/helpers.hpp"

using namespace commpress;
using lowrank::matrix_view;

namespace {

std::vector<float> random_matrix(std::size_t m, std::size_t n, std::uint64_t seed) {
    return testing::uniform(m * n, seed);
}

template <class T>
matrix_view<const T> view(const std::vector<T>& v, std::size_t rows, std::size_t cols) {
    return matrix_view<const T>(std::span<const T>(v), rows, cols);
}
template <class T>
matrix_view<T> view(std::vector<T>& v, std::size_t rows, std::size_t cols) {
    return matrix_view<T>(std::span<T>(v), rows, cols);
}

double frobenius2(const std::vector<float>& a) {
    double s = 0;
    for (const float v : a)
        s += static_cast<double>(v) * v;
    return s;
}

/// out = p q^T.
std::vector<float> product(const std::vector<float>& p, const std::vector<float>& qt, std::size_t m,
                           std::size_t n, std::size_t r) {
    std::vector<float> out(m * n);
    lowrank::multiply<false, float>(view(p, m, r), view(qt, r, n), view(out, m, n));
    return out;
}

/// The textbook product in double, to check the kernels against.
std::vector<double> naive(const std::vector<float>& a, const std::vector<float>& b, std::size_t m,
                          std::size_t k, std::size_t n) {
    std::vector<double> c(m * n, 0.0);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t l = 0; l < k; ++l)
                c[i * n + j] += static_cast<double>(a[i * k + l]) * b[l * n + j];
    return c;
}

} // namespace

TEST_CASE("lowrank::power_step: p q^T is the projection of M on span(p)", "[lowrank]") {
    constexpr std::size_t m = 60, n = 40, r = 3;
    const auto M = random_matrix(m, n, 1);
    auto q = random_matrix(r, n, 2);
    std::vector<float> p(m * r);
    std::vector<double> work(r * n);
    lowrank::power_step<float>(view(M, m, n), view(p, m, r), view(q, r, n), work);
    const auto out = product(p, q, m, n, r);
    // The projection of M on span(p), written out: p (p^T M).
    std::vector<float> ptm(r * n);
    lowrank::multiply_transposed<float>(view(p, m, r), view(M, m, n), view(ptm, r, n), work);
    std::vector<float> proj(m * n);
    lowrank::multiply<false, float>(view(p, m, r), view(ptm, r, n), view(proj, m, n));
    // Entries are sums of ~r n products of O(1) binary32 values, each rounded once to binary32
    // (relative 2^-24): |out - proj| <~ 1e-5 with a wide margin.
    for (std::size_t k = 0; k < out.size(); ++k)
        CHECK(std::abs(out[k] - proj[k]) < 1e-5);
    // A projection never grows M: ||M - out||^2 = ||M||^2 - ||out||^2 <= ||M||^2.
    std::vector<float> diff(m * n);
    for (std::size_t k = 0; k < diff.size(); ++k)
        diff[k] = M[k] - out[k];
    CHECK(frobenius2(diff) <= frobenius2(M));
    CHECK(frobenius2(diff) == Approx(frobenius2(M) - frobenius2(out)).epsilon(1e-4));
    // Idempotent: projecting out on span(p) again gives out.
    std::vector<float> pto(r * n), again(m * n);
    lowrank::multiply_transposed<float>(view(p, m, r), view(out, m, n), view(pto, r, n), work);
    lowrank::multiply<false, float>(view(p, m, r), view(pto, r, n), view(again, m, n));
    for (std::size_t k = 0; k < out.size(); ++k)
        CHECK(std::abs(again[k] - out[k]) < 1e-5);
}

TEST_CASE("lowrank::power_step: warm-started steps reach the best rank-r approximation",
          "[lowrank]") {
    // M = U diag(s) V^T with orthonormal U (m x 6), V (n x 6) and s = 10, 5, 2, 1, 0.5, 0.25.
    constexpr std::size_t m = 80, n = 50, r = 2;
    const auto M = testing::with_spectrum(m, n, {10, 5, 2, 1, 0.5, 0.25}, 11, 12);
    auto q = random_matrix(r, n, 13);
    std::vector<float> p(m * r);
    std::vector<double> work(r * n);
    // Subspace iteration: the error in span(p) shrinks like (s_3 / s_2)^t = 0.4^t per step, so
    // 40 steps leave 0.4^40 ~ 1e-16 of it: ||M - p q^T||^2 is then the Eckart-Young optimum
    // s_3^2 + ... + s_6^2 = 5.3125, up to the binary32 rounding of M (relative ~1e-7 of
    // ||M||^2 = 130.3, i.e. ~1e-5 absolute): 1e-4 relative is tight and safe.
    for (int t = 0; t < 40; ++t)
        lowrank::power_step<float>(view(M, m, n), view(p, m, r), view(q, r, n), work);
    const auto out = product(p, q, m, n, r);
    std::vector<float> diff(m * n);
    for (std::size_t i = 0; i < diff.size(); ++i)
        diff[i] = M[i] - out[i];
    CHECK(frobenius2(diff) == Approx(4.0 + 1.0 + 0.25 + 0.0625).epsilon(1e-4));
    // After one step only, the error is larger: the test would notice a step that did nothing.
    auto q1 = random_matrix(r, n, 13);
    lowrank::power_step<float>(view(M, m, n), view(p, m, r), view(q1, r, n), work);
    const auto out1 = product(p, q1, m, n, r);
    for (std::size_t i = 0; i < diff.size(); ++i)
        diff[i] = M[i] - out1[i];
    CHECK(frobenius2(diff) > 5.3125 * (1 + 1e-3));
}

TEST_CASE("lowrank products agree with the textbook product", "[lowrank]") {
    // Shapes with remainders of the 8-lane dot products (k = 37) and a rank-1 inner dimension.
    constexpr std::size_t m = 13, k = 37, n = 5;
    const auto a = random_matrix(m, k, 21), b = random_matrix(k, n, 22);
    std::vector<float> bt(n * k), at(k * m);
    for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t j = 0; j < n; ++j)
            bt[j * k + i] = b[i * n + j];
        for (std::size_t j = 0; j < m; ++j)
            at[i * m + j] = a[j * k + i];
    }
    const auto want = naive(a, b, m, k, n);
    std::vector<float> c1(m * n), c2(m * n), c3(m * n, 1.0f);
    lowrank::multiply_by_transpose<float>(view(a, m, k), view(bt, n, k), view(c1, m, n));
    std::vector<double> work(m * n);
    lowrank::multiply_transposed<float>(view(at, k, m), view(b, k, n), view(c2, m, n), work);
    lowrank::multiply<true, float>(view(a, m, k), view(b, k, n), view(c3, m, n), 0.5f);
    // Double sums rounded once: within half an ulp of |c| <= 37 plus the double error. The
    // float sum of multiply (37 terms of magnitude <= 1) errs by at most 37 * 2^-24 * 37.
    for (std::size_t i = 0; i < m * n; ++i) {
        CHECK(std::abs(c1[i] - want[i]) <= 4e-6 * (1 + std::abs(want[i])));
        CHECK(std::abs(c2[i] - want[i]) <= 4e-6 * (1 + std::abs(want[i])));
        CHECK(std::abs(c3[i] - (1 + 0.5 * want[i])) <= 1e-4);
    }
}

TEST_CASE("lowrank::multiply: shapes that do not match are refused", "[lowrank]") {
    std::vector<float> a(6), b(6), c(4);
    CHECK_THROWS_WITH(
        (lowrank::multiply<false, float>(view(a, 2, 3), view(b, 2, 3), view(c, 2, 2))),
        Catch::Contains("2 x 3 times 2 x 3 into 2 x 2"));
    CHECK_THROWS_AS(lowrank::multiply_transposed<float>(view(a, 2, 3), view(b, 3, 2), view(c, 2, 2),
                                                        std::span<double>()),
                    invalid_parameter);
    CHECK_THROWS_AS(
        lowrank::multiply_by_transpose<float>(view(a, 2, 3), view(b, 3, 2), view(c, 2, 2)),
        invalid_parameter);
    std::vector<float> c9(9);
    std::vector<double> small(8); // c is 3 x 3
    CHECK_THROWS_WITH(
        lowrank::multiply_transposed<float>(view(a, 2, 3), view(b, 2, 3), view(c9, 3, 3), small),
        Catch::Contains("into 3 x 3 with 8 doubles of workspace"));
}

// SPDX-License-Identifier: MIT
// The theory's step sizes against the reference values of OPERATORS.md B.4 and B.6 (computed
// there from the authors' code formulas).
#include <cmath>

#include <catch2/catch.hpp>

#include <commpress/feedback/step_size.hpp>

using namespace commpress;
using namespace commpress::feedback;

TEST_CASE("ef21: sqrt(beta / theta) matches the reference values", "[feedback][step]") {
    // B.4: alpha = 0.01 -> 198.499, 0.1 -> 18.487, 0.5 -> 2.414 (3 decimals given).
    CHECK(ef21_factor(0.01) == Approx(198.499).margin(5e-4));
    CHECK(ef21_factor(0.1) == Approx(18.487).margin(5e-4));
    CHECK(ef21_factor(0.5) == Approx(2.414).margin(5e-4));
    // The code's form: t = -1 + sqrt(1/(1-a)), theta = 1 - (1-a)(1+t), beta = (1-a)(1+1/t).
    for (const double a : {0.001, 0.03, 0.25, 0.9}) {
        const double t = -1 + std::sqrt(1 / (1 - a)), theta = 1 - (1 - a) * (1 + t);
        const double beta = (1 - a) * (1 + 1 / t);
        CHECK(ef21_factor(a) == Approx(std::sqrt(beta / theta)).epsilon(1e-12));
    }
    CHECK(ef21_gamma(1.0, {2.0, 3.0}) == 0.5); // identity: 1/L
    CHECK(ef21_gamma(0.1, {2.0, 3.0}) == Approx(1 / (2 + 3 * 18.4868)).epsilon(1e-4));
    CHECK_THROWS_AS(ef21_factor(0.0), invalid_parameter);
    CHECK_THROWS_AS(ef21_factor(1.5), invalid_parameter);
}

TEST_CASE("ef_bv: lambda*, nu*, r and the step factor match the reference values",
          "[feedback][step]") {
    // top-k with alpha = 0.1, deterministic: eta = sqrt(0.9), omega = 0 -> lambda* = nu* = 1,
    // factor 1/s* = 36.493; alpha = 1/112: 444.499.
    auto k = ef_bv_theory(std::sqrt(0.9), 0, 0);
    CHECK(k.lambda == 1.0);
    CHECK(k.nu == 1.0);
    CHECK(k.factor() == Approx(36.493).margin(5e-4));
    CHECK(ef_bv_theory(std::sqrt(1 - 1.0 / 112), 0, 0).factor() == Approx(444.499).margin(5e-4));
    // comp-(1, 56), d = 112, n = 8124 independent: eta = 0.70711, omega = 55.
    const double eta = std::sqrt(0.5);
    k = ef_bv_theory(eta, 55, 55.0 / 8124);
    CHECK(k.lambda == Approx(0.0053170).epsilon(1e-4));
    CHECK(k.nu == 1.0);
    CHECK(k.r == Approx(0.99844).epsilon(1e-5));
    CHECK(k.r_av == Approx(0.50677).epsilon(1e-5));
    CHECK(k.s == Approx(3.8986e-4).epsilon(1e-4));
    CHECK(k.factor() == Approx(1827.40).epsilon(1e-5));
    k = ef_bv_theory(eta, 55, 55.0 / 20); // n = 20
    CHECK(k.nu == Approx(0.10328).epsilon(1e-4));
    CHECK(k.factor() == Approx(2527.88).epsilon(1e-5));
    // rand-1, d = 112, n = 20, independent: eta = 0, omega = 111.
    k = ef_bv_theory(0, 111, 111.0 / 20);
    CHECK(k.lambda == Approx(1.0 / 112).epsilon(1e-12));
    CHECK(k.nu == Approx(0.15267).epsilon(1e-4));
    // lambda = 1 with omega > 0 and eta = 0: r = omega >= 1, no step exists.
    CHECK_THROWS_AS(ef_bv_theory(0, 2, 1, 1.0, 1.0), invalid_parameter);
}

TEST_CASE("diana and marina steps", "[feedback][step]") {
    CHECK(diana_alpha(9) == 0.1);              // alpha = 1 / (omega + 1)
    CHECK(diana_gamma(9, 6, 2) == 1.0 / 20.0); // 1 / ((1 + 6 * 9 / 6) 2)
    CHECK(marina_gamma(0, 0.5, 4, 2) == 0.5);  // omega = 0: 1 / L
    CHECK(marina_gamma(8, 0.5, 4, 1) == Approx(1 / (1 + std::sqrt(0.5 * 8 / 2))));
}

// SPDX-License-Identifier: MIT
// rank_r and randomized_svd: singular values against LAPACK's dgesdd, the Eckart-Young error
// and alpha = r / min(m, n) of the exact SVD, the Halko-Martinsson-Tropp bound for the
// randomized one on matrices of known spectra, exact bits, bad messages, and EF21 with them.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/experiment/simulator.hpp>
#include <commpress/lowrank/truncated_svd.hpp>

#include "lowrank/helpers.hpp"

extern "C" void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda,
                        double* s, double* u, const int* ldu, double* vt, const int* ldvt,
                        double* work, const int* lwork, int* iwork, int* info, std::size_t);

using namespace commpress;
using lowrank::matrix_view;

namespace {

using testing::uniform;

/// LAPACK's singular values of the m x n row-major a (non-increasing).
std::vector<double> lapack_singular_values(const std::vector<float>& a, int m, int n) {
    std::vector<double> col(a.size()); // column-major
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j)
            col[static_cast<std::size_t>(j * m + i)] = a[static_cast<std::size_t>(i * n + j)];
    std::vector<double> s(static_cast<std::size_t>(std::min(m, n)));
    std::vector<int> iwork(8 * s.size());
    int lwork = -1, info = 0, one = 1;
    double query = 0;
    dgesdd_("N", &m, &n, col.data(), &m, s.data(), nullptr, &one, nullptr, &one, &query, &lwork,
            iwork.data(), &info, 1);
    std::vector<double> work(static_cast<std::size_t>(query));
    lwork = static_cast<int>(work.size());
    dgesdd_("N", &m, &n, col.data(), &m, s.data(), nullptr, &one, nullptr, &one, work.data(),
            &lwork, iwork.data(), &info, 1);
    REQUIRE(info == 0);
    return s;
}

std::vector<float> with_spectrum(std::size_t m, std::size_t n, const std::vector<double>& s,
                                 std::uint64_t seed) {
    return testing::with_spectrum(m, n, s, seed, seed + 1000);
}

double err2(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    return s;
}

template <class C>
std::vector<float> round_trip(C& c, const std::vector<float>& a) {
    std::vector<std::byte> msg(c.max_message_size(a.size()));
    const std::size_t used = c.compress(std::span<const float>(a), std::span(msg));
    std::vector<float> out(a.size());
    c.decompress(std::span<const std::byte>(msg.data(), used), std::span(out));
    return out;
}

} // namespace

TEST_CASE("rank_r: singular values agree with LAPACK, the error is Eckart-Young's", "[lowrank]") {
    for (const auto& [m, n] : {std::pair<int, int>{25, 18}, {18, 25}}) {
        const auto a = uniform(static_cast<std::size_t>(m * n), 40 + static_cast<std::size_t>(m));
        const auto want = lapack_singular_values(a, m, n);
        const std::size_t l = want.size();
        // Rank 10, the largest whose factors are smaller than the matrix (10 * 43 < 450): Sigma
        // sits after U in the message. The Gram route loses accuracy only below
        // sigma_1 * 1e-8, so on O(1) values binary32 rounding (~1e-7 relative) dominates.
        constexpr std::size_t top = 10;
        lowrank::rank_r full({.rank = top},
                             {{static_cast<std::size_t>(m), static_cast<std::size_t>(n)}});
        REQUIRE(full.rank(0) == top);
        std::vector<std::byte> msg(full.max_message_size(a.size()));
        full.compress(std::span<const float>(a), std::span(msg));
        for (std::size_t j = 0; j < top; ++j) {
            float s = 0;
            std::memcpy(
                &s, msg.data() + message_header::size + 4 * (static_cast<std::size_t>(m) * top + j),
                4);
            CHECK(s == Approx(want[j]).epsilon(1e-5).margin(1e-5 * want[0]));
        }
        for (const std::size_t r : {1u, 3u, 7u}) {
            lowrank::rank_r c({.rank = r},
                              {{static_cast<std::size_t>(m), static_cast<std::size_t>(n)}});
            const auto out = round_trip(c, a);
            double tail = 0, total = 0;
            for (std::size_t j = 0; j < l; ++j) {
                total += want[j] * want[j];
                if (j >= r)
                    tail += want[j] * want[j];
            }
            // ||A - A_r||_F^2 = sum_{j>r} sigma_j^2 (Eckart-Young), to binary32 rounding of the
            // factors relative to ||A||^2: 1e-5 of the total.
            const double e = err2(a, out);
            CHECK(std::abs(e - tail) <= 1e-5 * total);
            // Contraction: 1 - e / ||A||^2 >= r / min(m, n) (OPERATORS.md A.11, [D]).
            CHECK(1 - e / total >= c.alpha(a.size()) - 1e-6);
            CHECK(c.alpha(a.size()) == Approx(double(r) / double(l)));
        }
    }
}

TEST_CASE("randomized_svd: within the Halko-Martinsson-Tropp bound on known spectra", "[lowrank]") {
    // E ||A - A_k||_F^2 <= (2 + k / (p - 1)) sum_{j>k} sigma_j^2 (Thm 10.5 plus the truncation
    // to k; the derivation is in docs/operators.md). The mean over 20 draws is checked against
    // it: the bound is 2.5 to 3 times the truncated SVD's error, far more than the spread of a
    // 20-draw mean. The exact-rank case must be recovered to rounding.
    constexpr std::size_t m = 60, n = 40, k = 4, p = 5;
    std::vector<std::vector<double>> spectra(3);
    for (std::size_t j = 0; j < n; ++j) {
        spectra[0].push_back(std::pow(0.7, double(j)));      // geometric
        spectra[1].push_back(1.0 / double(j + 1));           // polynomial
        spectra[2].push_back(j < 3 ? 1.0 + double(j) : 0.0); // rank 3 < k
    }
    for (std::size_t q : {0u, 1u}) {
        for (std::size_t i = 0; i < spectra.size(); ++i) {
            auto s = spectra[i];
            const auto a = with_spectrum(m, n, s, 7 + i);
            double tail = 0, total = 0;
            std::sort(s.rbegin(), s.rend());
            for (std::size_t j = 0; j < s.size(); ++j) {
                total += s[j] * s[j];
                if (j >= k)
                    tail += s[j] * s[j];
            }
            double mean = 0;
            for (std::uint64_t draw = 0; draw < 20; ++draw) {
                lowrank::randomized_svd c({.rank = k, .oversampling = p, .power_iterations = q},
                                          {{m, n}}, seed{draw});
                mean += err2(a, round_trip(c, a)) / 20;
            }
            INFO("spectrum " << i << ", q = " << q << ": mean error " << mean << ", tail " << tail);
            if (tail == 0)
                CHECK(mean <= 1e-10 * total); // exact rank <= k: recovered up to rounding
            else
                CHECK(mean <= (2 + double(k) / double(p - 1)) * tail);
            CHECK(mean >= tail * (1 - 1e-5)); // never better than Eckart-Young
        }
    }
}

TEST_CASE("low-rank messages: exact bits, and the tensors sent as they are", "[lowrank]") {
    const lowrank::layout shapes{{30, 20}, {1, 30}, {12, 10}};
    const auto x = uniform(600 + 30 + 120, 3);
    lowrank::rank_r c({.rank = 2}, shapes);
    // 32 k (m + n + 1) per matrix, 32 per uncompressed element.
    const std::size_t bits = 32 * (2 * (30 + 20 + 1) + 30 + 2 * (12 + 10 + 1));
    CHECK(c.bits(x.size()) == bits);
    std::vector<std::byte> msg(c.max_message_size(x.size()));
    CHECK(c.compress(std::span<const float>(x), std::span(msg)) == message_header::size + bits / 8);
    std::vector<float> out(x.size());
    c.decompress(std::span<const std::byte>(msg), std::span(out));
    for (std::size_t j = 600; j < 630; ++j)
        CHECK(out[j] == x[j]);
    // decompress_add adds weight times the same output.
    std::vector<float> acc(x.size(), 1.0f);
    c.decompress_add(std::span<const std::byte>(msg), std::span(acc), 0.5f);
    for (std::size_t j = 0; j < x.size(); ++j)
        CHECK(acc[j] == Approx(1.0f + 0.5f * out[j]).margin(1e-6));
    // The same seed and step give the same bytes.
    lowrank::randomized_svd r1({.rank = 2}, shapes, seed{4}), r2({.rank = 2}, shapes, seed{4});
    std::vector<std::byte> m1(r1.max_message_size(x.size())), m2(m1.size());
    r1.compress(std::span<const float>(x), std::span(m1));
    r2.compress(std::span<const float>(x), std::span(m2));
    CHECK(m1 == m2);
}

TEST_CASE("low-rank decoders refuse bad messages with decode_error", "[lowrank]") {
    const lowrank::layout shapes{{8, 6}};
    const auto x = uniform(48, 5);
    lowrank::rank_r c({.rank = 2}, shapes);
    std::vector<std::byte> msg(c.max_message_size(48));
    c.compress(std::span<const float>(x), std::span(msg));
    std::vector<float> out(48, 7.0f);
    const auto unchanged = [&] {
        for (const float v : out)
            REQUIRE(v == 7.0f);
    };
    // Another rank or shape: another fingerprint.
    lowrank::rank_r other({.rank = 3}, shapes), shape({.rank = 2}, {{6, 8}});
    CHECK_THROWS_WITH(other.decompress(std::span<const std::byte>(msg), std::span(out)),
                      Catch::Contains("fingerprint"));
    CHECK_THROWS_WITH(shape.decompress(std::span<const std::byte>(msg), std::span(out)),
                      Catch::Contains("fingerprint"));
    // Truncated.
    CHECK_THROWS_AS(
        c.decompress(std::span<const std::byte>(msg).first(msg.size() - 4), std::span(out)),
        decode_error);
    // Forged payloads with a valid header: NaN, a negative or increasing Sigma, 4 bytes more.
    std::vector<float> v(2 * (8 + 6 + 1));
    std::memcpy(v.data(), msg.data() + message_header::size, 4 * v.size());
    const auto forged = [&](std::vector<float> values) {
        std::vector<std::byte> m(lowrank::detail::factor_message_size(values.size()));
        lowrank::detail::write_factors(values, c.fingerprint(), 48, 0, 0, {}, m);
        return m;
    };
    auto bad = v;
    bad[5] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(forged(bad)), std::span(out)),
                      Catch::Contains("not finite"));
    bad = v;
    bad[16] = -1; // Sigma_0 (after U, 8 x 2)
    CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(forged(bad)), std::span(out)),
                      Catch::Contains("singular value 0"));
    bad = v;
    bad[17] = bad[16] * 2;
    CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(forged(bad)), std::span(out)),
                      Catch::Contains("singular value 1"));
    bad = v;
    bad.push_back(0);
    CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(forged(bad)), std::span(out)),
                      Catch::Contains("payload bytes"));
    unchanged();
    // The wrong number of elements is the caller's error.
    std::vector<float> small(47);
    CHECK_THROWS_AS(c.decompress(std::span<const std::byte>(msg), std::span(small)),
                    invalid_parameter);
    CHECK_THROWS_AS(c.compress(std::span<const float>(small), std::span(msg)), invalid_parameter);
    // Values the decoder would refuse are refused before a message is written.
    auto inf = x;
    inf[7] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(c.compress(std::span<const float>(inf), std::span(msg)),
                      Catch::Contains("not finite"));
}

TEST_CASE("EF21 with a low-rank compressor: gradients of rank <= r pass whole", "[lowrank]") {
    // Each worker's gradient is a rank-2 matrix: with rank_r (r = 2) and h_i = 0 at the start,
    // EF21's first message h_i = C(grad_i) is grad_i up to rounding, so x moves by gamma times the
    // mean gradient.
    const lowrank::layout shapes{{12, 9}};
    std::vector<testing::fixed_gradient> parts;
    for (std::uint64_t i = 0; i < 3; ++i)
        parts.push_back({with_spectrum(12, 9, {2.0, 1.0}, 50 + i)});
    experiment::simulator<feedback::ef21, lowrank::rank_r> sim(
        feedback::ef21{.gamma = 0.5, .init = feedback::start::zero},
        [&](std::uint32_t i) { return lowrank::rank_r({.rank = 2}, shapes, {}, {.worker = i}); },
        108, 3);
    std::vector<float> x(108, 0.0f);
    const auto rec = sim.round(std::span(parts), std::span(x));
    for (std::size_t j = 0; j < 108; ++j) {
        const double mean = (double(parts[0].g[j]) + parts[1].g[j] + parts[2].g[j]) / 3;
        CHECK(x[j] == Approx(-0.5 * mean).margin(1e-5));
    }
    CHECK(rec.payload_bits_up == 32.0 * 2 * (12 + 9 + 1));
}

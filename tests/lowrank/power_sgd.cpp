// SPDX-License-Identifier: MIT
// PowerSGD's two rounds in the simulator: the output is the orthogonal projection of the
// workers' mean on span(P^), the memory keeps exactly what it dropped, the bits are
// 32 r (m + n) per matrix, warm starts converge to the best rank-r approximation, and the
// decoders refuse messages of another configuration, step, round or length.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/experiment/simulator.hpp>
#include <commpress/lowrank/power_sgd.hpp>

#include "lowrank/helpers.hpp"

using namespace commpress;
using lowrank::matrix_view;

namespace {

using testing::uniform;

// A 30 x 20 weight matrix, a 30-element bias, a 4 x 4 matrix whose rank-2 factors would not
// be smaller (2 (4 + 4) = 16): three tensors, one factored.
const lowrank::layout shapes{{30, 20}, {1, 30}, {4, 4}};
constexpr std::size_t d = 600 + 30 + 16, workers = 3, rank = 2;

using sim_type = experiment::simulator<feedback::ef14, lowrank::power_sgd>;

sim_type make_sim(std::size_t r = rank, std::shared_ptr<thread_team> team = nullptr) {
    return sim_type(feedback::ef14{.gamma = 1},
                    [r](std::uint32_t i) {
                        return lowrank::power_sgd({.rank = r}, shapes, seed{5},
                                                  stream{.worker = i});
                    },
                    d, workers, {.team = std::move(team)});
}

double norm2(std::span<const float> a) {
    double s = 0;
    for (const float v : a)
        s += static_cast<double>(v) * v;
    return s;
}

} // namespace

TEST_CASE("power_sgd: the output projects the workers' mean on span(P^)", "[lowrank]") {
    std::vector<testing::fixed_gradient> parts;
    for (std::uint64_t i = 0; i < workers; ++i)
        parts.push_back({uniform(d, 100 + i)});
    auto sim = make_sim();
    std::vector<float> x(d, 0.0f);
    sim.round(std::span(parts), std::span(x));
    const auto out = sim.server().output();
    // Round 1 starts from zero memory: M_w = c_w; mean of the matrix block.
    std::vector<float> mean(d, 0.0f);
    for (const auto& p : parts)
        for (std::size_t j = 0; j < d; ++j)
            mean[j] += p.g[j] / static_cast<float>(workers);
    // x moved by exactly the output; every worker computed the same output bits.
    for (std::size_t j = 0; j < d; ++j)
        REQUIRE(x[j] == -out[j]);
    for (auto& w : sim.workers())
        CHECK(std::memcmp(w.output().data(), out.data(), 4 * d) == 0);
    // P^ from the workers' shared state: orthonormal columns (one MGS pass on 30 x 2 in
    // double: |P^T P^ - I| ~ 1e-7 after rounding to binary32; 1e-5 is safe and would catch a
    // missing normalisation or projection, which give O(0.1)).
    std::vector<float> P(30 * rank), PtM(rank * 20), proj(600);
    std::vector<double> work(rank * 20);
    {
        // Recompute P^ the way the protocol does: P = sum_w M_w Q0, orthogonalised.
        std::vector<float> q0(rank * 20 + 0), pw(30 * rank);
        lowrank::power_sgd(lowrank::power_sgd_options{.rank = rank}, shapes, seed{5}).initial_q(q0);
        std::fill(P.begin(), P.end(), 0.0f);
        for (const auto& p : parts) {
            lowrank::multiply_by_transpose<float>(
                matrix_view<const float>(std::span<const float>(p.g).first(600), 30, 20),
                matrix_view<const float>(std::span<const float>(q0), rank, 20),
                matrix_view<float>(std::span<float>(pw), 30, rank));
            for (std::size_t k = 0; k < P.size(); ++k)
                P[k] += pw[k];
        }
        lowrank::orthogonalize(matrix_view<float>(std::span<float>(P), 30, rank), 1e-8);
    }
    for (std::size_t a = 0; a < rank; ++a)
        for (std::size_t b = 0; b < rank; ++b) {
            double dot = 0;
            for (std::size_t i = 0; i < 30; ++i)
                dot += static_cast<double>(P[i * rank + a]) * P[i * rank + b];
            CHECK(std::abs(dot - (a == b ? 1.0 : 0.0)) < 1e-5);
        }
    lowrank::multiply_transposed<float>(
        matrix_view<const float>(std::span<const float>(P), 30, rank),
        matrix_view<const float>(std::span<const float>(mean).first(600), 30, 20),
        matrix_view<float>(std::span<float>(PtM), rank, 20), work);
    lowrank::multiply<false, float>(matrix_view<const float>(std::span<const float>(P), 30, rank),
                                    matrix_view<const float>(std::span<const float>(PtM), rank, 20),
                                    matrix_view<float>(std::span<float>(proj), 30, 20));
    // out = P^ P^T mean: entries are O(1) sums of 30 + 2 terms rounded to binary32 and the
    // protocol's mean of Q is a float mean of 3 (~2 ulp): 1e-5 absolute holds with margin.
    for (std::size_t j = 0; j < 600; ++j)
        CHECK(std::abs(out[j] - proj[j]) < 1e-5);
    // A projection never grows the mean: ||mean - out||^2 <= ||mean||^2 on the matrix block.
    std::vector<float> diff(600);
    for (std::size_t j = 0; j < 600; ++j)
        diff[j] = mean[j] - out[j];
    CHECK(norm2(diff) <= norm2(std::span<const float>(mean).first(600)));
    // Idempotent for this P^: projecting out again changes it by rounding only.
    lowrank::multiply_transposed<float>(
        matrix_view<const float>(std::span<const float>(P), 30, rank),
        matrix_view<const float>(out.first(600), 30, 20),
        matrix_view<float>(std::span<float>(PtM), rank, 20), work);
    lowrank::multiply<false, float>(matrix_view<const float>(std::span<const float>(P), 30, rank),
                                    matrix_view<const float>(std::span<const float>(PtM), rank, 20),
                                    matrix_view<float>(std::span<float>(proj), 30, 20));
    for (std::size_t j = 0; j < 600; ++j)
        CHECK(std::abs(proj[j] - out[j]) < 1e-5);
    // The uncompressed tensors: their mean, as the server computes it (sum, then * 1/3).
    for (std::size_t j = 600; j < d; ++j) {
        const float sum = (parts[0].g[j] + parts[1].g[j]) + parts[2].g[j];
        CHECK(out[j] == sum * (1.0f / 3.0f));
    }
    // e_w + out = M_w up to the two roundings, of e = fl(M - out) (<= 2^-24 |e|) and of the
    // sum (<= 2^-24 |e + out|): |fl(e + out) - M| <= 2^-24 (2 |e| + |out|) <= 2^-23 (|e| + |out|).
    for (std::size_t w = 0; w < workers; ++w) {
        const auto e = sim.workers()[w].memory();
        for (std::size_t j = 0; j < 600; ++j)
            CHECK(std::abs(e[j] + out[j] - parts[w].g[j]) <=
                  0x1p-23 * (std::abs(e[j]) + std::abs(out[j])));
        for (std::size_t j = 600; j < d; ++j)
            CHECK(e[j] == 0.0f); // the authors' code keeps no memory for these
    }
}

TEST_CASE("power_sgd: exact bits per round, both directions", "[lowrank]") {
    std::vector<testing::fixed_gradient> parts;
    for (std::uint64_t i = 0; i < workers; ++i)
        parts.push_back({uniform(d, 200 + i)});
    for (const std::size_t r : {1u, 2u, 5u}) {
        auto sim = make_sim(r);
        std::vector<float> x(d, 0.0f);
        const auto rec = sim.round(std::span(parts), std::span(x));
        // 30 x 20 at rank r: 32 r (30 + 20); the bias and the 4 x 4 matrix (r (4 + 4) >= 16 for
        // r >= 2; at r = 1, 8 < 16, so it is factored too): 32 (30 + 16) or 32 (30 + 8).
        const double small = r == 1 ? 32.0 * (4 + 4) : 32.0 * 16;
        const double up = 32.0 * r * (30 + 20) + 32.0 * 30 + small;
        CHECK(rec.payload_bits_up == up);
        CHECK(sim.workers()[0].max_message_size() >= message_header::size);
        // Down: x in binary32, then the sum of P (the P message's size) and the mean of Q.
        const double q = 32.0 * r * 20 + (r == 1 ? 32.0 * 4 : 0.0);
        const double p = up - q;
        CHECK(rec.payload_bits_down == 32.0 * d + p + q);
        CHECK(lowrank::power_sgd({.rank = r}, shapes).bits() == static_cast<std::size_t>(up));
    }
}

TEST_CASE("power_sgd: warm starts converge to the best rank-r approximation", "[lowrank]") {
    // One worker whose M = e + grad is held at a fixed matrix A (grad = A - e each step): the
    // protocol then runs subspace iteration on A. A = U diag(s) V^T, s = 8, 4, 1, 0.5, 0.25 on a
    // 30 x 20 block; at rank 2 the error in span(P^) shrinks by s_3 / s_2 = 1/4 per step, so 30
    // steps leave 4^-30 of it, and ||A - out||^2 reaches the Eckart-Young optimum
    // 1 + 0.25 + 0.0625 = 1.3125 up to binary32 rounding of A (~1e-7 of ||A||^2 = 81.3).
    const lowrank::layout one{{30, 20}};
    const auto A = testing::with_spectrum(30, 20, {8, 4, 1, 0.5, 0.25}, 1, 2);
    const lowrank::power_sgd c({.rank = 2, .epsilon = 0}, one, seed{9});
    lowrank::power_sgd_worker w(feedback::ef14{.gamma = 1}, c, 600, 1);
    lowrank::power_sgd_server srv(feedback::ef14{.gamma = 1}, c, 600, 1);
    std::vector<std::byte> msg(c.max_message_size());
    std::vector<float> grad(600), x(600);
    double first = 0, last = 0;
    for (int t = 0; t < 30; ++t) {
        for (std::size_t j = 0; j < 600; ++j)
            grad[j] = A[j] - w.memory()[j];
        srv.receive(std::span(msg).first(w.step(grad, msg)));
        srv.receive_answer(std::span(msg).first(w.answer(srv.p_sum(), msg)));
        w.receive(srv.q_mean());
        srv.update(x);
        std::vector<float> diff(600);
        for (std::size_t j = 0; j < 600; ++j)
            diff[j] = A[j] - w.output()[j];
        (t == 0 ? first : last) = norm2(diff);
    }
    CHECK(last == Approx(1.3125).epsilon(1e-4));
    CHECK(first > 1.3125 * 1.01); // one step from a random Q is not there yet
}

TEST_CASE("power_sgd: same seed, same bytes, on any thread count", "[lowrank]") {
    std::vector<testing::fixed_gradient> parts;
    for (std::uint64_t i = 0; i < workers; ++i)
        parts.push_back({uniform(d, 300 + i)});
    std::vector<float> x1(d, 0.0f), x2(d, 0.0f);
    auto a = make_sim(), b = make_sim(rank, std::make_shared<thread_team>(2));
    for (int t = 0; t < 3; ++t) {
        a.round(std::span(parts), std::span(x1));
        b.round(std::span(parts), std::span(x2));
    }
    CHECK(std::memcmp(x1.data(), x2.data(), 4 * d) == 0);
    CHECK(a.bytes_up() == b.bytes_up());
}

TEST_CASE("power_sgd: decoders refuse other configurations, steps, rounds and lengths",
          "[lowrank]") {
    const lowrank::power_sgd c({.rank = 2}, shapes, seed{5});
    lowrank::power_sgd_worker w(feedback::ef14{.gamma = 1}, c, d, 1);
    lowrank::power_sgd_server srv(feedback::ef14{.gamma = 1}, c, d, 1);
    std::vector<std::byte> msg(c.max_message_size());
    const auto grad = uniform(d, 7);
    const std::size_t used = w.step(grad, msg);
    auto p = std::vector<std::byte>(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(used));

    // Another rank, another layout: the fingerprint differs.
    lowrank::power_sgd_server other(feedback::ef14{.gamma = 1},
                                    lowrank::power_sgd({.rank = 3}, shapes, seed{5}), d, 1);
    CHECK_THROWS_WITH(other.receive(p), Catch::Contains("fingerprint"));
    // A P message where a Q message is due (after p_sum): another part, another fingerprint.
    CHECK_THROWS_AS(srv.receive_answer(p), invalid_parameter); // round 2 has not begun
    // Truncated, extended: the header's length no longer matches.
    CHECK_THROWS_AS(srv.receive(std::span(p).first(p.size() - 4)), decode_error);
    // A payload of 4 more bytes with a header saying so: the count the configuration expects
    // is checked too.
    {
        std::vector<float> values(c.p_values() + 1, 0.5f);
        std::vector<std::byte> longer(lowrank::detail::factor_message_size(values.size()));
        lowrank::detail::write_factors(values, c.fingerprint(lowrank::power_sgd::part::p), d, 0, 0,
                                       {}, longer);
        CHECK_THROWS_WITH(srv.receive(longer), Catch::Contains("payload bytes"));
        values.pop_back();
        values[3] = std::numeric_limits<float>::quiet_NaN();
        std::vector<std::byte> nan(lowrank::detail::factor_message_size(values.size()));
        lowrank::detail::write_factors(values, c.fingerprint(lowrank::power_sgd::part::p), d, 0, 0,
                                       {}, nan);
        CHECK_THROWS_WITH(srv.receive(nan),
                          Catch::Contains("value 3 of the payload is not finite"));
    }
    srv.receive(p);
    const auto sum = srv.p_sum();
    std::vector<std::byte> sum_copy(sum.begin(), sum.end());
    // The worker refuses its own P message as the sum (another part), and a sum of another
    // step.
    CHECK_THROWS_WITH(w.answer(p, msg), Catch::Contains("fingerprint"));
    const std::size_t q_used = w.answer(sum_copy, msg);
    std::vector<float> x(d);
    CHECK_THROWS_AS(srv.update(x), invalid_parameter); // round 2 is not over
    srv.receive_answer(std::span(msg).first(q_used));
    const auto q = srv.q_mean();
    const std::vector<std::byte> q_copy(q.begin(), q.end());
    w.receive(q_copy);
    srv.update(x);
    // The next step: the last step's messages are stale.
    CHECK_THROWS_WITH(w.answer(sum_copy, msg), Catch::Contains("header.step"));
    CHECK_THROWS_WITH(w.receive(q_copy), Catch::Contains("header.step"));
    CHECK_THROWS_WITH(srv.receive(p), Catch::Contains("header.step"));
}

// SPDX-License-Identifier: MIT
// aggregate::majority_vote over recipes::sign messages (OPERATORS.md A.6): hand-computed votes
// with ties, all-or-nothing validation, the d-bit downlink, and the vote's law under noise.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/aggregate/majority_vote.hpp>
#include <commpress/recipes.hpp>

namespace {

using namespace commpress;
using bytes = std::vector<std::byte>;

/// Worker w's message: its own pipeline, stream worker w.
bytes send(const std::vector<float>& x, std::uint32_t w) {
    recipes::sign p(sparsify::identity{}, quantize::sign{}, encode::bitpack{}, seed{},
                    stream{.worker = w});
    return p.compress(std::span<const float>(x));
}

std::vector<float> vote(const std::vector<bytes>& msgs, std::size_t n) {
    std::vector<std::span<const std::byte>> spans(msgs.begin(), msgs.end());
    std::vector<float> out(n, 99.0f); // stale content must be overwritten
    recipes::sign server;
    aggregate::majority_vote(server, std::span<const std::span<const std::byte>>(spans),
                             std::span<float>(out));
    return out;
}

/// P(lo <= K <= hi) for K ~ Binomial(w, p), summed term by term (no 1 - cdf cancellation).
double binomial(unsigned w, double p, unsigned lo, unsigned hi) {
    double sum = 0, c = 1; // c = C(w, k)
    for (unsigned k = 0; k <= hi && k <= w; ++k) {
        if (k >= lo)
            sum += c * std::pow(p, k) * std::pow(1 - p, w - k);
        c = c * (w - k) / (k + 1);
    }
    return sum;
}

double phi(double t) { return 0.5 * std::erfc(-t / std::sqrt(2.0)); } // standard normal CDF

} // namespace

TEST_CASE("majority_vote equals a hand-computed vote, ties and +0 going to +1",
          "[quantize][majority_vote]") {
    const std::vector<std::vector<float>> x = {
        {1, -1, 0.0f, -0.0f, 2, -3},
        {1, 1, -1, -0.0f, -2, -3},
        {-1, -1, 1, 0.0f, -2, 3},
        {-1, -1, -1, -0.0f, 2, -3},
    };
    std::vector<bytes> msgs;
    for (std::uint32_t w = 0; w < 4; ++w)
        msgs.push_back(send(x[w], w));
    // Columns: (+ + - -) tie, (- + - -), (+0 - + -) tie, (-0 -0 +0 -0), (+ - - +) tie, (- - + -).
    CHECK(vote(msgs, 6) == std::vector<float>{1, -1, 1, -1, 1, -1});
    msgs.pop_back(); // three workers: no ties
    CHECK(vote(msgs, 6) == std::vector<float>{1, -1, 1, -1, -1, -1});
    msgs.resize(1); // one worker: its signs
    CHECK(vote(msgs, 6) == std::vector<float>{1, -1, 1, -1, 1, -1});
    CHECK(vote({send({}, 0), send({}, 1)}, 0).empty());
}

TEST_CASE("majority_vote checks every message before touching out",
          "[quantize][majority_vote][decode]") {
    const std::size_t n = 21;
    std::vector<bytes> msgs;
    for (std::uint32_t w = 0; w < 5; ++w) {
        std::vector<float> x(n);
        for (std::size_t i = 0; i < n; ++i)
            x[i] = static_cast<float>((i * 7 + w * 3) % 5) - 2.0f;
        msgs.push_back(send(x, w));
    }
    const std::vector<float> stale(n, 42.0f);
    recipes::sign server;
    auto run = [&](const bytes& third) {
        std::vector<std::span<const std::byte>> spans(msgs.begin(), msgs.end());
        spans[2] = third; // position 3 of 5
        std::vector<float> out = stale;
        CHECK_THROWS_AS(aggregate::majority_vote(server,
                                                 std::span<const std::span<const std::byte>>(spans),
                                                 std::span<float>(out)),
                        decode_error);
        CHECK(out == stale);
    };
    SECTION("truncated") { run(bytes(msgs[2].begin(), msgs[2].end() - 1)); }
    SECTION("a trailing byte") {
        auto m = msgs[2];
        m.push_back(std::byte{0});
        run(m);
    }
    SECTION("a flipped header bit") {
        auto m = msgs[2];
        m[20] ^= std::byte{4};
        run(m);
    }
    SECTION("another tensor size") { run(send(std::vector<float>(n + 1, 1.0f), 2)); }
    SECTION("another configuration") {
        recipes::sign other(sparsify::identity{}, quantize::sign{}, encode::bitpack{}, seed{1});
        run(other.compress(std::span<const float>(std::vector<float>(n, 1.0f))));
    }
    SECTION("no message at all is a parameter error") {
        std::vector<float> out = stale;
        CHECK_THROWS_AS(aggregate::majority_vote(server, {}, std::span<float>(out)),
                        invalid_parameter);
        CHECK(out == stale);
    }
}

TEST_CASE("majority_vote's reply re-compresses to a d-bit sign message, exactly",
          "[quantize][majority_vote][bits]") {
    for (const std::size_t n : {1u, 8u, 9u, 1000u}) {
        CAPTURE(n);
        std::vector<bytes> msgs;
        std::mt19937_64 rng(n);
        std::normal_distribution<float> normal;
        for (std::uint32_t w = 0; w < 6; ++w) {
            std::vector<float> x(n);
            for (float& v : x)
                v = normal(rng);
            msgs.push_back(send(x, w));
        }
        const auto v = vote(msgs, n);
        recipes::sign server;
        const auto down = server.compress(std::span<const float>(v));
        CHECK(down.size() == message_header::size + (n + 7) / 8);
        std::vector<float> back(n);
        server.decompress(std::span<const std::byte>(down), std::span<float>(back));
        CHECK(back == v);
    }
}

TEST_CASE("majority_vote recovers sign(g) from noisy workers as the binomial law predicts",
          "[quantize][majority_vote][theory]") {
    // Worker w sends sign(g_i + xi_wi), xi i.i.d. N(0, 1), so it is wrong with probability
    // p = Phi(-|g_i|), independently across workers and coordinates. With W = 31 (odd: no ties)
    // the vote is wrong iff K >= 16 for K ~ Binomial(31, p): the exact tail below (Hoeffding
    // would give exp(-2 W (1/2 - p)^2)). Over D coordinates the number of correct votes is
    // Binomial(D, q), q = P(K <= 15): checked within 6 sigma (two-sided tail ~2e-9); seed fixed.
    const unsigned W = 31;
    const std::size_t D = 4000;
    auto run = [&](double magnitude, unsigned workers, std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> normal;
        std::vector<double> g(D);
        for (double& v : g)
            v = (rng() & 1) ? magnitude : -magnitude;
        std::vector<bytes> msgs;
        for (std::uint32_t w = 0; w < workers; ++w) {
            std::vector<float> x(D);
            for (std::size_t i = 0; i < D; ++i)
                x[i] = static_cast<float>(g[i] + normal(rng));
            msgs.push_back(send(x, w));
        }
        const auto v = vote(msgs, D);
        std::size_t agree = 0; // with sign(g); for g = 0, with +1
        for (std::size_t i = 0; i < D; ++i)
            agree += v[i] == (g[i] < 0 ? -1.0f : 1.0f);
        return static_cast<double>(agree) / static_cast<double>(D);
    };
    const double Dd = static_cast<double>(D);
    SECTION("|g| = 3: every vote is right") {
        const double p = phi(-3.0); // 0.00135: a single worker errs on ~5 of 4000
        const double tail = binomial(W, p, 16, W);
        CHECK(Dd * tail < 1e-20); // union bound over the D coordinates (about 1e-34)
        CHECK(run(3.0, W, 11) == 1.0);
    }
    SECTION("|g| = 0.1: the vote beats one worker by the predicted margin") {
        const double p = phi(-0.1); // 0.460
        const double q = binomial(W, p, 0, 15);
        const double band = 6 * std::sqrt(q * (1 - q) / Dd);
        CHECK(std::abs(1 - p - q) > band); // one worker's rate is outside the band: not vacuous
        const double rate = run(0.1, W, 12);
        CAPTURE(p, q, band, rate);
        CHECK(std::abs(rate - q) <= band);
    }
    SECTION("g = 0, W = 30: ties go to +1, so P(+1) = 1/2 + C(30, 15) / 2^31") {
        const double q = binomial(30, 0.5, 0, 15); // K = number of -1 votes <= 15
        CHECK(q == Approx(0.5 + 155117520.0 / 2147483648.0).epsilon(1e-12));
        const double band = 6 * std::sqrt(q * (1 - q) / Dd);
        CHECK(q - 0.5 > band); // a tie rule of "0" or a coin would be caught
        const double rate = run(0.0, 30, 13);
        CAPTURE(q, band, rate);
        CHECK(std::abs(rate - q) <= band);
    }
}

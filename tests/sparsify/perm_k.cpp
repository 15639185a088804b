// SPDX-License-Identifier: MIT
// sparsify::perm_k through real pipelines, one per worker (OPERATORS.md A.10g):
// - exactness: when every worker holds the same x, (1/w) sum_i C_i(x) = x, checked by
//   decompress_add of all w messages with weight 1/w, also when w does not divide n and n < w;
// - each worker's coordinates: the blocks of the workers are disjoint and cover [0, n);
//   kept(n) = ceil(n/w) for every worker (padding slots decode to 0); a perm_k + raw message is
//   48 + 4 ceil(n/w) bytes;
// - the law: unbiased with omega = w - 1 exactly for every x, by Monte Carlo (theory_mc.hpp);
// - parameters: workers = 0 and out-of-range worker ids.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>
#include <commpress/sparsify/perm_k.hpp>

#include "sparsify/theory_mc.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using permk = pipeline<sparsify::perm_k, quantize::identity, encode::raw>;

constexpr tv::shape shapes[] = {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                                tv::shape::heavy_tailed, tv::shape::zero};

std::vector<permk> make_workers(std::uint32_t w, std::uint64_t sd) {
    std::vector<permk> ps;
    for (std::uint32_t i = 0; i < w; ++i)
        ps.emplace_back(sparsify::perm_k{.workers = w}, quantize::identity{}, encode::raw{},
                        seed{sd}, stream{.worker = i, .tensor = 3});
    return ps;
}

} // namespace

static_assert(sparsifier<sparsify::perm_k> && permk::unbiased && has_omega<permk>);

TEST_CASE("perm_k: the workers' average is x exactly, blocks are disjoint and cover 0 .. n-1",
          "[sparsify][perm_k][exact]") {
    for (const std::uint32_t w : {1u, 2u, 3u, 4u, 7u, 8u})
        for (const std::size_t n : {0u, 1u, 2u, 5u, 7u, 16u, 64u, 100u, 1001u}) {
            CAPTURE(w, n);
            auto ps = make_workers(w, 77);
            const auto x = tv::make<float>(tv::shape::heavy_tailed, n, n + w);
            const std::size_t b = (n + w - 1) / w;
            for (int step = 0; step < 6; ++step) {
                std::vector<double> acc(n, 0.0);
                std::vector<int> owners(n, 0);
                for (std::uint32_t i = 0; i < w; ++i) {
                    const auto msg = ps[i].compress(std::span<const float>(x));
                    REQUIRE(msg.size() == 48 + 4 * b);
                    CHECK(ps[i].max_message_size(n) == msg.size());
                    // Decoded by worker 0's pipeline: the header carries the sender's id.
                    ps[0].decompress_add(std::span<const std::byte>(msg), std::span<double>(acc),
                                         1.0 / w);
                    std::vector<float> own(n);
                    ps[i].decompress(std::span<const std::byte>(msg), std::span<float>(own));
                    for (std::size_t j = 0; j < n; ++j)
                        owners[j] += own[j] != 0.0f;
                }
                // Each coordinate decodes from exactly one worker, as (1/w) (w x_j): exact up to
                // one rounding of the double product, <= 2^-52 |x_j|. (x has no zeros: the
                // heavy-tailed draws are continuous.)
                std::size_t bad = 0, twice = 0;
                for (std::size_t j = 0; j < n; ++j) {
                    bad += !(std::abs(acc[j] - x[j]) <= 0x1p-52 * std::abs(x[j]));
                    twice += owners[j] != 1;
                }
                CHECK(bad == 0);
                CHECK(twice == 0);
            }
        }
}

TEST_CASE("perm_k layouts are shared, fresh at every step, and rotate the block sizes",
          "[sparsify][perm_k][seed]") {
    // n = 5, w = 3: blocks of sizes 2, 2, 1; a worker gets the short block (and a padding slot)
    // with probability 1/3 at each step. Over N = 3000 steps: 1000 +- 6 sqrt(N (1/3)(2/3)) ~ 155.
    const std::uint32_t w = 3;
    const std::size_t n = 5, N = 3000;
    auto ps = make_workers(w, 5);
    const std::vector<float> x = {1, 2, 3, 4, 5};
    std::vector<std::size_t> short_block(w, 0);
    std::set<std::vector<float>> layouts;
    for (std::size_t t = 0; t < N; ++t)
        for (std::uint32_t i = 0; i < w; ++i) {
            std::vector<float> out(n);
            ps[i].decompress(std::span<const std::byte>(ps[i].compress(std::span<const float>(x))),
                             std::span<float>(out));
            std::size_t nz = 0;
            for (float v : out)
                nz += v != 0.0f;
            short_block[i] += nz == 1;
            if (i == 0 && t < 200)
                layouts.insert(out);
        }
    for (std::uint32_t i = 0; i < w; ++i) {
        CAPTURE(i, short_block[i]);
        CHECK(short_block[i] >= 845);
        CHECK(short_block[i] <= 1155);
    }
    // Worker 0 decodes one of 15 equally likely outputs: 10 pairs, each w.p. (2/3)/10, and 5
    // singles, each w.p. (1/3)/5. 200 draws miss one w.p. <= 15 (14/15)^200 ~ 1.5e-5.
    CHECK(layouts.size() == 15);
}

TEST_CASE("perm_k is unbiased with omega = workers - 1 on every test shape",
          "[sparsify][perm_k][theory]") {
    const std::size_t trials = 4000;
    for (const std::uint32_t w : {2u, 3u, 5u})
        for (const std::size_t n : {64u, 50u})
            for (const tv::shape s : shapes) {
                CAPTURE(w, n, tv::name(s));
                const auto x = tv::make<float>(s, n, 3 * n + w);
                permk p(sparsify::perm_k{.workers = w}, {}, {}, seed{13},
                        stream{.worker = w - 1, .tensor = 0});
                const double om = static_cast<double>(w) - 1;
                CHECK(p.omega(n) == om);
                // C_j = w x_j w.p. 1/w, else 0.
                std::vector<double> ec(n), var(n), dev(n);
                for (std::size_t j = 0; j < n; ++j) {
                    const double xj = x[j];
                    ec[j] = xj;
                    var[j] = om * xj * xj;
                    dev[j] = xj * xj * std::max(om * om, 1.0);
                }
                const auto r = tv::run_mc(p, x, ec, var, dev, static_cast<double>(w), trials);
                if (s == tv::shape::zero)
                    continue;
                CHECK(r.eta_x == 0.0);
                CHECK(r.omega_x == Approx(om).epsilon(1e-12));
                if (std::getenv("COMMPRESS_PRINT_CONSTANTS") != nullptr)
                    std::printf("%-16s n=%zu w=%u %-13s eta^=%.4f (eta=0) omega^=%.4f "
                                "(omega=%.4f)\n",
                                "perm_k", n, w, tv::name(s), r.eta_hat, r.omega_hat, om);
            }
}

TEST_CASE("perm_k parameters and edge cases", "[sparsify][perm_k][param]") {
    CHECK_THROWS_AS(permk(sparsify::perm_k{.workers = 0}), invalid_parameter);
    CHECK_THROWS_WITH(permk(sparsify::perm_k{.workers = 0}),
                      Catch::Contains("perm_k: workers must be at least 1"));
    const sparsify::perm_k s{.workers = 4};
    CHECK_NOTHROW(s.validate_worker(3));
    CHECK_THROWS_AS(s.validate_worker(4), invalid_parameter);
    CHECK_THROWS_WITH(s.validate_worker(9),
                      Catch::Contains("perm_k: worker id 9 is out of range for 4 workers"));
    CHECK(s.kept(0) == 0);
    CHECK(s.kept(1) == 1);
    CHECK(s.kept(9) == 3);
    CHECK(s.kept(8) == 2);
    SECTION("an out-of-range worker is rejected when built and when named by a header") {
        CHECK_THROWS_WITH(
            (permk(sparsify::perm_k{.workers = 4}, {}, {}, seed{1}, stream{.worker = 4})),
            Catch::Contains("perm_k: worker id 4 is out of range for 4 workers"));
        // A message from worker 3 of 4, read by a receiver that expects 3 workers: same stages
        // but another fingerprint, so build the receiver for 4 workers and corrupt the header's
        // worker field instead (resealing the header checksum).
        permk p(sparsify::perm_k{.workers = 4}, {}, {}, seed{1}, stream{.worker = 3});
        const auto x = tv::make<float>(tv::shape::gaussian, 10, 1);
        auto msg = p.compress(std::span<const float>(x));
        msg[32] = std::byte{9}; // worker id 9
        const std::uint32_t crc = crc32c(std::span<const std::byte>(msg).first(44));
        for (int i = 0; i < 4; ++i)
            msg[44 + i] = static_cast<std::byte>(crc >> (8 * i));
        std::vector<float> out(10, 1.5f);
        CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                          Catch::Contains("header.worker: worker id 9 is not valid"));
        CHECK(out == std::vector<float>(10, 1.5f));
    }
    SECTION("one worker: C(x) = x") {
        permk p(sparsify::perm_k{.workers = 1});
        const auto x = tv::make<float>(tv::shape::gaussian, 33, 2);
        std::vector<float> out(33);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                     std::span<float>(out));
        CHECK(out == x);
        CHECK(p.omega(33) == 0.0);
    }
    SECTION("n = 0") {
        permk p(sparsify::perm_k{.workers = 3});
        const std::vector<float> x;
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size);
        std::vector<float> out;
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
}

TEST_CASE("perm_k implicit indices: ceil(n/w) ascending, distinct, below n, redrawn alike",
          "[sparsify][perm_k][exact]") {
    for (const std::uint32_t w : {1u, 3u, 4u, 9u})
        for (const std::size_t n : {1u, 2u, 10u, 12u, 257u}) {
            CAPTURE(w, n);
            const sparsify::perm_k s{.workers = w};
            sparsify::perm_k::workspace a, b;
            for (std::uint32_t step = 0; step < 4; ++step) {
                std::vector<std::uint32_t> all;
                for (std::uint32_t i = 0; i < w; ++i) {
                    const draw_context c{seed{3}, 1, i, step};
                    const auto idx = s.implicit_indices(n, c, a);
                    const std::vector<std::uint32_t> v(idx.begin(), idx.end());
                    REQUIRE(v.size() == (n + w - 1) / w);
                    CHECK(tv::strictly_ascending(v));
                    CHECK(v.back() < n);
                    const auto again = s.implicit_indices(n, c, b); // the decoder's redraw
                    CHECK(std::vector<std::uint32_t>(again.begin(), again.end()) == v);
                    for (auto j : v)
                        if (j != a.pad)
                            all.push_back(j);
                }
                // The real (non-padding) coordinates of all workers: each of [0, n) once.
                std::sort(all.begin(), all.end());
                std::vector<std::uint32_t> want(n);
                for (std::size_t j = 0; j < n; ++j)
                    want[j] = static_cast<std::uint32_t>(j);
                CHECK(all == want);
            }
        }
}

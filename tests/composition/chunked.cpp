// SPDX-License-Identifier: MIT
// chunked<C> and thread_team: chunks are C applied to slices with independent streams, so the
// constants are the worst chunk's; bytes and errors do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/chunked.hpp>
#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

using namespace commpress;
namespace tv = commpress::testing;

namespace {

std::shared_ptr<thread_team> team(unsigned size) { return std::make_shared<thread_team>(size); }

template <class C>
std::vector<float> round_trip(C& c, const std::vector<float>& x) {
    const auto msg = c.compress(std::span<const float>(x));
    std::vector<float> out(x.size(), -1.0f);
    c.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    return out;
}

} // namespace

TEST_CASE("thread_team runs every index once, on thread i mod size", "[chunked][thread_team]") {
    for (const unsigned size : {1u, 2u, 3u, 5u}) {
        thread_team t(size);
        REQUIRE(t.size() == size);
        for (const std::size_t count : {0u, 1u, 2u, 7u, 100u}) {
            std::vector<std::atomic<int>> seen(count);
            std::vector<unsigned> on(count, 99);
            t.run(count, [&](std::size_t i, unsigned th) {
                ++seen[i];
                on[i] = th;
            });
            for (std::size_t i = 0; i < count; ++i) {
                CHECK(seen[i] == 1);
                CHECK(on[i] == (count == 1 ? 0 : i % size));
            }
        }
    }
}

TEST_CASE("thread_team rethrows the exception of the lowest index", "[chunked][thread_team]") {
    thread_team t(3);
    std::atomic<int> ran{0};
    const auto f = [&](std::size_t i, unsigned) {
        ++ran;
        if (i == 4 || i == 9)
            throw std::runtime_error("index " + std::to_string(i));
    };
    CHECK_THROWS_WITH(t.run(12, f), "index 4");
    CHECK(ran == 12); // the other indices still ran: the team is ready for the next call
    ran = 0;
    t.run(12, [&](std::size_t, unsigned) { ++ran; });
    CHECK(ran == 12);
}

TEST_CASE("thread_team serves callers from several threads in turn", "[chunked][thread_team]") {
    thread_team t(2);
    std::vector<long> sums(4, 0);
    std::vector<std::thread> callers;
    for (std::size_t c = 0; c < sums.size(); ++c)
        callers.emplace_back([&, c] {
            for (int rep = 0; rep < 50; ++rep) {
                std::vector<long> part(64, 0);
                t.run(part.size(), [&](std::size_t i, unsigned) { part[i] = long(i) * long(c); });
                for (long v : part)
                    sums[c] += v;
            }
        });
    for (std::thread& th : callers)
        th.join();
    for (std::size_t c = 0; c < sums.size(); ++c)
        CHECK(sums[c] == 50 * 2016 * long(c)); // 50 calls, sum of 0..63 = 2016
}

TEST_CASE("chunked: messages are identical for every thread count", "[chunked]") {
    const auto x = tv::make<float>(tv::shape::gaussian, 10007, 3);
    std::vector<std::vector<std::byte>> first;
    for (const unsigned threads : {1u, 2u, 3u, 4u}) {
        chunked<recipes::qsgd> c(recipes::qsgd{{}, {}, {}, seed{5}}, 1000,
                                 threads == 1 ? nullptr : team(threads));
        std::vector<std::vector<std::byte>> msgs;
        for (int step = 0; step < 3; ++step)
            msgs.push_back(c.compress(std::span<const float>(x)));
        if (first.empty())
            first = msgs;
        CHECK(msgs == first);
    }
}

TEST_CASE("chunked: per-element operators give the same values as unchunked", "[chunked]") {
    // fp16 and sign round each value alone: chunking changes the message, not C(x).
    for (const tv::shape s : tv::all_shapes) {
        INFO(tv::name(s));
        const auto x = tv::make<float>(s, 10007, 4);
        recipes::fp16 plain;
        chunked<recipes::fp16> c(recipes::fp16{}, 1000, team(3));
        CHECK(round_trip(c, x) == round_trip(plain, x));
        recipes::sign plain_sign;
        chunked<recipes::sign> cs(recipes::sign{}, 999, team(2));
        CHECK(round_trip(cs, x) == round_trip(plain_sign, x));
        chunked<recipes::fp32> c32(recipes::fp32{}, 64, team(2));
        CHECK(round_trip(c32, x) == x);
    }
}

TEST_CASE("chunked: sizes and exact bits", "[chunked]") {
    chunked<recipes::fp16> c(recipes::fp16{}, 1000, team(2));
    for (const std::size_t n : {0u, 1u, 999u, 1000u, 1001u, 10007u}) {
        INFO("n = " << n);
        const auto x = tv::make<float>(tv::shape::gaussian, n, 5);
        const auto msg = c.compress(std::span<const float>(x));
        // Each chunk: a 4-byte size and 16 bits per element; 10007 = 10 chunks of 1000 and 7.
        const std::size_t chunks = (n + 999) / 1000;
        CHECK(c.chunks(n) == chunks);
        CHECK(c.bits(n) == 32 * chunks + 16 * n);
        CHECK(msg.size() == message_header::size + c.bits(n) / 8);
        CHECK(c.max_message_size(n) == msg.size());
        std::vector<float> out(n);
        c.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    }
    // Odd-sized chunks of a 1-bit code pad each payload to a byte: 3 bits -> 1 byte.
    chunked<recipes::sign> s(recipes::sign{}, 3);
    CHECK(s.bits(7) == 3 * 32 + 3 * 8);
}

TEST_CASE("chunked top_k keeps the top of every chunk; alpha is the worst chunk's", "[chunked]") {
    // ratio 0.01 of chunks of 1000 and a last chunk of 7: k = 10 and 1, alpha = min(0.01, 1/7).
    const std::size_t n = 10007, chunk = 1000;
    chunked<recipes::top_k> c(recipes::top_k{{.ratio = 0.01}}, chunk, team(2));
    CHECK(c.alpha(n) == Approx(0.01));
    CHECK(c.eta(n) == Approx(std::sqrt(1 - 0.01)));
    CHECK(chunked<recipes::top_k>(recipes::top_k{{.k = 2}}, chunk).alpha(n) == Approx(2.0 / 1000));
    for (const tv::shape s : tv::all_shapes) {
        INFO(tv::name(s));
        const auto x = tv::make<float>(s, n, 6);
        const auto y = round_trip(c, x);
        double err = 0;
        for (std::size_t i = 0; i < n; ++i)
            err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
        CHECK(err <= (1 - c.alpha(n)) * tv::norm2(x) * (1 + 1e-12));
        recipes::top_k plain{{.ratio = 0.01}}; // deterministic: chunk c gives top_k(x_c)
        for (std::size_t first = 0; first < n; first += chunk) {
            const std::vector<float> xc(x.begin() + long(first),
                                        x.begin() + long(std::min(n, first + chunk)));
            CHECK(round_trip(plain, xc) ==
                  std::vector<float>(y.begin() + long(first), y.begin() + long(first + xc.size())));
        }
    }
}

TEST_CASE("chunked rand_k: unbiased, omega of the chunks, independent streams", "[chunked]") {
    // Scaled rand-k: ||C(x) - x||^2 has mean (n_c/k_c - 1)||x_c||^2 per chunk; with chunks of
    // 50 and k = 5 that is omega = 9 for all of x, the same as unchunked rand-k at 10%.
    const std::size_t n = 200;
    chunked<recipes::rand_k> c(recipes::rand_k{{.ratio = 0.1}, {}, {}, seed{7}}, 50, team(2));
    REQUIRE(c.omega(n) == Approx(9.0));
    const auto x = tv::make<double>(tv::shape::gaussian, n, 8);
    const double xx = tv::norm2(x);
    constexpr int trials = 20000;
    std::vector<double> mean(n, 0.0), out(n);
    double sum = 0, sum2 = 0;
    bool chunks_differ = false;
    for (int t = 0; t < trials; ++t) {
        c.decompress(std::span<const std::byte>(c.compress(std::span<const double>(x))),
                     std::span<double>(out));
        double e = 0;
        for (std::size_t i = 0; i < n; ++i) {
            mean[i] += out[i] / trials;
            e += (out[i] - x[i]) * (out[i] - x[i]);
            // Chunks 0 and 1 sharing a stream would keep the same offsets at every step.
            if (i < 50 && (out[i] != 0) != (out[i + 50] != 0))
                chunks_differ = true;
        }
        sum += e;
        sum2 += e * e;
    }
    CHECK(chunks_differ);
    // Coordinate i: (n_c/k_c) x_i with probability 1/10, else 0; variance 9 x_i^2. The mean of N
    // trials is within 6 sqrt(9 x_i^2 / N) of x_i (CLT, 6 sigma).
    for (std::size_t i = 0; i < n; ++i)
        CHECK(std::abs(mean[i] - x[i]) <= 6 * std::sqrt(9 * x[i] * x[i] / trials) + 1e-12);
    // E||C(x) - x||^2 = 9 ||x||^2 exactly; the sample mean is within 6 sd / sqrt(N).
    const double m = sum / trials, sd = std::sqrt(std::max(0.0, sum2 / trials - m * m));
    CHECK(std::abs(m - c.omega(n) * xx) <= 6 * sd / std::sqrt(double(trials)));
}

TEST_CASE("chunked decompress_add equals decompress then add", "[chunked]") {
    const auto x = tv::make<float>(tv::shape::heavy_tailed, 5003, 9);
    chunked<recipes::terngrad> c(recipes::terngrad{}, 700, team(3));
    const auto msg = c.compress(std::span<const float>(x));
    std::vector<float> y(x.size()), acc(x.size(), 0.25f);
    c.decompress(std::span<const std::byte>(msg), std::span<float>(y));
    c.decompress_add(std::span<const std::byte>(msg), std::span<float>(acc), 0.5f);
    for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(acc[i] == 0.25f + 0.5f * y[i]);
}

TEST_CASE("chunked rejects bad messages before writing, naming the first bad chunk", "[chunked]") {
    const std::size_t n = 5000;
    const auto x = tv::make<float>(tv::shape::gaussian, n, 10);
    for (const unsigned threads : {1u, 2u, 3u}) {
        INFO(threads << " threads");
        chunked<recipes::qsgd> c(recipes::qsgd{}, 1000, threads == 1 ? nullptr : team(threads),
                                 {.payload_checksum = false});
        const auto good = c.compress(std::span<const float>(x));
        const auto rejects = [&](std::vector<std::byte> msg, const std::string& what) {
            // Header fields follow the message: fix the payload size and header checksum.
            const std::size_t payload = msg.size() - message_header::size;
            detail::store_le(msg.data() + 24, payload, 8);
            detail::store_le(msg.data() + 44, crc32c(std::span<const std::byte>(msg).first(44)), 4);
            std::vector<float> out(n, -3.5f);
            CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                              Catch::Contains(what));
            CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == -3.5f; }));
        };
        const std::size_t table = message_header::size;
        auto msg = good;
        msg.resize(table + 12); // shorter than the 5-entry table
        rejects(msg, "shorter than its table");
        msg = good;
        msg.pop_back(); // the sizes now overrun the payload
        rejects(msg, "table and chunk sizes");
        // Chunk payloads start with QSGD's norm: a negative norm is invalid. Break chunks 3
        // and 1; chunk 1 is reported whoever checks it.
        msg = good;
        std::size_t at = table + 20;
        for (std::size_t i = 0; i < 3; ++i) {
            if (i == 1)
                msg[at + 3] |= std::byte{0x80};
            at += detail::load_le(msg.data() + table + 4 * i, 4);
        }
        msg[at + 3] |= std::byte{0x80}; // chunk 3
        rejects(msg, "chunk[1].payload.scale[0]");
        // Another chunk size is another operator.
        chunked<recipes::qsgd> other(recipes::qsgd{}, 999);
        std::vector<float> out(n);
        CHECK_THROWS_WITH(other.decompress(std::span<const std::byte>(good), std::span<float>(out)),
                          Catch::Contains("fingerprint"));
        c.decompress(std::span<const std::byte>(good), std::span<float>(out)); // still fine
    }
}

TEST_CASE("chunked rejects invalid parameters", "[chunked]") {
    CHECK_THROWS_AS(chunked<recipes::fp16>(recipes::fp16{}, 0), invalid_parameter);
    CHECK_THROWS_AS(chunked<recipes::fp32>(recipes::fp32{}, std::size_t{1} << 31),
                    invalid_parameter); // a 2^33-byte chunk payload
    chunked<recipes::fp16> c(recipes::fp16{}, 100);
    std::vector<float> x(1000);
    std::vector<std::byte> small(c.max_message_size(x.size()) - 1);
    CHECK_THROWS_AS(c.compress(std::span<const float>(x), std::span<std::byte>(small)),
                    invalid_parameter);
}

// SPDX-License-Identifier: MIT
// Checkpoints of every method's halves: saving, loading into fresh objects and continuing gives
// the run that never stopped, bit for bit; a corrupt, truncated or mismatched checkpoint raises
// decode_error and changes nothing.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/feedback.hpp>
#include <commpress/recipes.hpp>

#include "feedback/quadratic.hpp"

using namespace commpress;
namespace fb = commpress::feedback;
using commpress::testing::quadratic;

namespace {

constexpr std::size_t d = 30, n = 3;

template <class C>
C make(std::uint32_t worker, std::uint32_t tensor = 0) {
    typename C::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = 0.2;
    if constexpr (requires { sp.independent; })
        sp.independent = true;
    return C{sp, {}, {}, seed{3}, stream{.worker = worker, .tensor = tensor}};
}

/// The halves of one run and the model.
template <class M, class C>
struct state {
    std::vector<fb::worker<M, C>> workers;
    fb::server<M, C> server;
    std::vector<float> x = std::vector<float>(d, 0.5f);

    explicit state(M m) : server(m, make<C>(0), d, n) {
        for (std::uint32_t i = 0; i < n; ++i)
            workers.emplace_back(m, make<C>(i), d, n);
    }
    void rounds(const quadratic& q, int count) {
        std::vector<float> g(d);
        std::vector<std::byte> msg(workers[0].max_message_size());
        for (int t = 0; t < count; ++t) {
            for (std::size_t i = 0; i < n; ++i) {
                q.grad(i, std::span<const float>(x), std::span<float>(g));
                server.receive(std::span<const std::byte>(msg.data(), workers[i].step(g, msg)));
            }
            server.update(std::span<float>(x));
        }
    }
};

template <class M, class C>
void resumes_exactly(M m, const char* what) {
    INFO(what);
    const quadratic q(d, n, 1.0);
    state<M, C> straight(m);
    straight.rounds(q, 25);
    state<M, C> first(m);
    first.rounds(q, 12);
    std::vector<std::vector<std::byte>> saved;
    for (const auto& w : first.workers)
        saved.push_back(w.save());
    const auto server = first.server.save();
    state<M, C> resumed(m); // fresh objects, then the checkpoints
    for (std::size_t i = 0; i < n; ++i)
        resumed.workers[i].load(saved[i]);
    resumed.server.load(server);
    resumed.x = first.x;
    resumed.rounds(q, 13);
    CHECK(resumed.x == straight.x);
}

} // namespace

TEST_CASE("a loaded checkpoint continues the run that never stopped", "[feedback][checkpoint]") {
    resumes_exactly<fb::ef21, recipes::top_k>({.gamma = 0.05, .momentum = 0.3}, "ef21-hb");
    resumes_exactly<fb::diana, recipes::rand_k>({.gamma = 0.05}, "diana");
    resumes_exactly<fb::ef_bv, recipes::qsgd>({.gamma = 0.05}, "ef_bv");
    resumes_exactly<fb::dcgd, recipes::natural>({.gamma = 0.05}, "dcgd");
    resumes_exactly<fb::ef14, recipes::top_k>({.gamma = 0.05}, "ef14");
    resumes_exactly<fb::marina, recipes::rand_k>({.gamma = 0.05, .p = 0.3, .seed = 4}, "marina");
}

TEST_CASE("bad checkpoints raise decode_error and change nothing", "[feedback][checkpoint]") {
    using W = fb::worker<fb::ef21, recipes::top_k>;
    using S = fb::server<fb::ef21, recipes::top_k>;
    const quadratic q(d, n, 1.0);
    state<fb::ef21, recipes::top_k> s({.gamma = 0.05});
    s.rounds(q, 5);
    const auto good = s.workers[1].save();
    W target({.gamma = 0.05}, make<recipes::top_k>(1), d, n);
    const std::vector<float> before(target.shift().begin(), target.shift().end());
    const auto rejects = [&](std::vector<std::byte> bytes, const std::string& what) {
        CHECK_THROWS_WITH(target.load(bytes), Catch::Contains(what));
        CHECK(std::vector<float>(target.shift().begin(), target.shift().end()) == before);
        CHECK(target.round() == 0);
    };
    rejects({good.begin(), good.begin() + 10}, "shorter than");
    auto bad = good;
    bad[0] = std::byte{'X'};
    rejects(bad, "not a commpress checkpoint");
    bad = good;
    bad[40] ^= std::byte{1};
    rejects(bad, "CRC32C");
    rejects(s.server.save(), "a server's state, loaded into a worker");
    rejects(s.workers[2].save(), "checkpoint.worker");
    // Another tensor id, another step size, another compressor: another configuration.
    W other_tensor({.gamma = 0.05}, make<recipes::top_k>(1, 9), d, n);
    CHECK_THROWS_WITH(other_tensor.load(good), Catch::Contains("fingerprint"));
    W other_gamma({.gamma = 0.06}, make<recipes::top_k>(1), d, n);
    CHECK_THROWS_WITH(other_gamma.load(good), Catch::Contains("fingerprint"));
    fb::worker<fb::ef21, recipes::top_k, double> other_type({.gamma = 0.05},
                                                            make<recipes::top_k>(1), d, n);
    CHECK_THROWS_WITH(other_type.load(good), Catch::Contains("element_size"));
    S server({.gamma = 0.05}, make<recipes::top_k>(0), d, n);
    CHECK_THROWS_WITH(server.load(good), Catch::Contains("a worker's state, loaded into a server"));
    target.load(good); // and the good one loads
    CHECK(target.round() == 5);
    CHECK(std::vector<float>(target.shift().begin(), target.shift().end()) ==
          std::vector<float>(s.workers[1].shift().begin(), s.workers[1].shift().end()));
}

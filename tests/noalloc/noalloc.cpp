// SPDX-License-Identifier: MIT
// The hot path allocates nothing after warm-up: global operator new is replaced by a counter
// around compress(x, out) and decompress_add for every shipped composition, alone and chunked
// on two threads.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <tuple>
#include <vector>

#include "conformance/compositions.hpp"
#include "support/vectors.hpp"

namespace {
std::size_t allocations = 0;

std::shared_ptr<commpress::thread_team> team() { // its threads start before the counting
    static const auto t = std::make_shared<commpress::thread_team>(2);
    return t;
}
} // namespace

void* operator new(std::size_t size) {
    ++allocations;
    if (void* p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

/// compress + decompress_add of P, or of chunked<P> on a team of two threads.
template <class P, bool Chunked>
int check() {
    const std::size_t n = 4099;
    const auto make = [](std::uint32_t w) {
        if constexpr (Chunked)
            return commpress::chunked<P>(commpress::testing::make<P>(1, w), 1000, team());
        else
            return commpress::testing::make<P>(1, w);
    };
    auto worker = make(1);
    auto server = make(0);
    const auto x = commpress::testing::make<float>(commpress::testing::shape::gaussian, n, 2);
    std::vector<std::byte> buf(worker.max_message_size(n));
    std::vector<float> acc(n);
    for (int warm = 0; warm < 2; ++warm) { // grow the workspaces
        const auto used = worker.compress(std::span<const float>(x), std::span<std::byte>(buf));
        server.decompress_add(std::span<const std::byte>(buf.data(), used), std::span<float>(acc),
                              0.5f);
    }
    const std::size_t before = allocations;
    for (int i = 0; i < 5; ++i) {
        const auto used = worker.compress(std::span<const float>(x), std::span<std::byte>(buf));
        server.decompress_add(std::span<const std::byte>(buf.data(), used), std::span<float>(acc),
                              0.5f);
    }
    const std::size_t count = allocations - before;
    std::printf("%-50s %zu allocations in 5 compress + decompress_add calls\n",
                worker.describe().c_str(), count);
    return count == 0 ? 0 : 1;
}

/// The low-rank compressors' compress + decompress_add, and a PowerSGD step of one worker and
/// its server (both rounds), on a layout with a matrix and a bias; the randomized SVD's sketch has
/// 12 + 8 columns.
int check_lowrank() {
    namespace lr = commpress::lowrank;
    const lr::layout shapes{{60, 50}, {1, 60}};
    const std::size_t n = shapes.size();
    const auto x = commpress::testing::make<float>(commpress::testing::shape::gaussian, n, 2);
    lr::rank_r exact({.rank = 3}, shapes);
    lr::randomized_svd randomized({.rank = 12, .oversampling = 8, .power_iterations = 1}, shapes);
    const lr::power_sgd c({.rank = 2}, shapes);
    lr::power_sgd_worker w(commpress::feedback::ef14{.gamma = 0.5}, c, n, 1);
    lr::power_sgd_server s(commpress::feedback::ef14{.gamma = 0.5}, c, n, 1);
    std::vector<std::byte> buf(randomized.max_message_size(n) + c.max_message_size());
    std::vector<float> acc(n);
    const auto round = [&] {
        std::size_t used = exact.compress(std::span<const float>(x), std::span(buf));
        exact.decompress_add(std::span<const std::byte>(buf.data(), used), std::span(acc), 0.5f);
        used = randomized.compress(std::span<const float>(x), std::span(buf));
        randomized.decompress_add(std::span<const std::byte>(buf.data(), used), std::span(acc),
                                  0.5f);
        s.receive(std::span(buf).first(w.step(x, buf)));
        s.receive_answer(std::span(buf).first(w.answer(s.p_sum(), buf)));
        w.receive(s.q_mean());
        s.update(acc);
    };
    round();
    const std::size_t before = allocations;
    for (int i = 0; i < 5; ++i)
        round();
    const std::size_t count = allocations - before;
    std::printf("%-50s %zu allocations in 5 steps\n", "rank_r, randomized_svd, power_sgd", count);
    return count == 0 ? 0 : 1;
}

int main() {
    const int failures = check_lowrank() + std::apply(
                                               [](auto... p) {
                                                   return (check<decltype(p), false>() + ...) +
                                                          (check<decltype(p), true>() + ...);
                                               },
                                               commpress::testing::compositions{});
    std::printf("%d compositions allocated on the hot path\n", failures);
    return failures == 0 ? 0 : 1;
}

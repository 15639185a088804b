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

int main() {
    const int failures = std::apply(
        [](auto... p) {
            return (check<decltype(p), false>() + ...) + (check<decltype(p), true>() + ...);
        },
        commpress::testing::compositions{});
    std::printf("%d compositions allocated on the hot path\n", failures);
    return failures == 0 ? 0 : 1;
}

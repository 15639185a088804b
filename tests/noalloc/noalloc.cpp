// SPDX-License-Identifier: MIT
// The hot path allocates nothing after warm-up: global operator new is replaced by a counter
// around compress(x, out) and decompress_add for every shipped composition.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <tuple>
#include <vector>

#include "conformance/compositions.hpp"
#include "support/vectors.hpp"

namespace {
std::size_t allocations = 0;
}

void* operator new(std::size_t size) {
    ++allocations;
    if (void* p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

template <class P>
int check() {
    const std::size_t n = 4099;
    auto worker = commpress::testing::make<P>(1, 1);
    auto server = commpress::testing::make<P>(1, 0);
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
    const int failures = std::apply([](auto... p) { return (check<decltype(p)>() + ...); },
                                    commpress::testing::compositions{});
    std::printf("%d compositions allocated on the hot path\n", failures);
    return failures == 0 ? 0 : 1;
}

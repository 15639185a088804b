// SPDX-License-Identifier: MIT
#include <cstdio>
#include <vector>

#include <commpress/commpress.hpp>

std::vector<std::byte> compress_in_one(std::span<const float> x);

int main() {
    std::vector<float> x(100);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(i % 7) - 3.0f;
    commpress::recipes::topk_qsgd p{{.ratio = 0.1}};
    const bool same = compress_in_one(x) == p.compress(std::span<const float>(x));
    std::puts(same ? "same bytes from both translation units" : "MISMATCH");
    return same ? 0 : 1;
}

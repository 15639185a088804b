// SPDX-License-Identifier: MIT
#include <cstdio>
#include <vector>

#include <commpress/commpress.hpp>

int main() {
    std::vector<float> g(1000);
    for (std::size_t i = 0; i < g.size(); ++i)
        g[i] = static_cast<float>(i % 17) - 8.0f;
    commpress::recipes::topk_qsgd c{{.ratio = 0.05}, {.levels = 8}};
    const auto msg = c.compress(std::span<const float>(g));
    std::vector<float> out(g.size());
    c.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    std::printf("consumer: %zu bytes for %zu floats, alpha = %.4f\n", msg.size(), g.size(),
                c.alpha(g.size()));
    return msg.size() < 4 * g.size() ? 0 : 1;
}

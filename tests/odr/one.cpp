// SPDX-License-Identifier: MIT
// ODR check: the umbrella in two translation units of one program links and agrees.
#include <vector>

#include <commpress/commpress.hpp>

std::vector<std::byte> compress_in_one(std::span<const float> x) {
    commpress::recipes::topk_qsgd p{{.ratio = 0.1}};
    return p.compress(x);
}

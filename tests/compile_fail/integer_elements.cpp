// SPDX-License-Identifier: MIT
// Must not compile: pipelines compress float or double tensors, not integers.
#include <vector>

#include <commpress/commpress.hpp>

int main() {
    std::vector<int> g(10);
    commpress::recipes::fp32 p;
    (void)p.compress(std::span<const int>(g));
}

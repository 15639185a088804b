// SPDX-License-Identifier: MIT
// The code of docs/getting-started.md: compress a gradient, send the bytes, decode, check theory.
#include <cstdio>
#include <random>
#include <vector>

#include <commpress/commpress.hpp>

namespace cp = commpress;

int main() {
    // A gradient of one million floats.
    std::vector<float> grad(1 << 20);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (float& g : grad)
        g = normal(rng);

    // 1. Compose at compile time, parameterise at run time.
    using topk_qsgd =
        cp::pipeline<cp::sparsify::top_k, cp::quantize::qsgd, cp::encode::elias_gamma>;
    topk_qsgd worker{cp::sparsify::top_k{.ratio = 0.01},
                     cp::quantize::qsgd{.levels = 16, .bucket = 64},
                     {},
                     cp::seed{42},
                     cp::stream{.worker = 3}};

    // 2. Compress into a buffer sized once: this call allocates nothing after the first one.
    std::vector<std::byte> buffer(worker.max_message_size(grad.size()));
    const std::size_t bytes = worker.compress(std::span<const float>(grad), buffer);
    const std::span<const std::byte> message(buffer.data(), bytes);

    // 3. Any pipeline with the same configuration decodes it (here: the server's).
    topk_qsgd server{cp::sparsify::top_k{.ratio = 0.01},
                     cp::quantize::qsgd{.levels = 16, .bucket = 64},
                     {},
                     cp::seed{42}};
    std::vector<float> sum(grad.size(), 0.0f);
    server.decompress_add(message, std::span<float>(sum), 1.0f / 8); // sum += C(grad) / 8

    // 4. Theory travels with the type.
    static_assert(!topk_qsgd::unbiased); // top-k is biased: the composition is contractive
    std::printf("%s\n  %zu bytes for %zu floats (%.3f bits per element), alpha = %.5f\n",
                worker.describe().c_str(), bytes, grad.size(),
                8.0 * static_cast<double>(bytes) / static_cast<double>(grad.size()),
                worker.alpha(grad.size()));

    // 5. A message for another configuration is rejected, not misread.
    cp::recipes::top_k other{{.ratio = 0.01}};
    try {
        other.decompress(message, std::span<float>(sum));
    } catch (const cp::decode_error& e) {
        std::printf("  rejected as expected: %s\n", e.what());
    }
}

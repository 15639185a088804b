// SPDX-License-Identifier: MIT
// Seeds and counter-based random streams (Random123 Philox4x32-10).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <Random123/philox.h>

#include <commpress/kernels/arch.hpp>
#include <commpress/kernels/philox.hpp>

namespace commpress {

/// Root seed of a run. Every worker uses the same one: shared randomness (e.g. rand-k indices)
/// is then drawn alike everywhere and never sent.
struct seed {
    std::uint64_t value = 0;
};

/// Which stream of private randomness a pipeline draws from: one per (worker, tensor).
struct stream {
    std::uint32_t worker = 0;
    std::uint32_t tensor = 0;
};

/// The worker id that selects the shared stream: every worker draws the same numbers from it.
inline constexpr std::uint32_t shared_worker = 0xffff'ffffu;

/// Separates the draws of the stages of one pipeline, so they are independent.
enum class purpose : std::uint32_t { sparsify = 1, quantize = 2, user = 3, lowrank = 4 };

/// Everything a stage needs to recreate a draw: the sender's stream and step travel in the
/// message header, the seed and tensor id are part of the pipeline's configuration.
struct draw_context {
    seed root;
    std::uint32_t tensor = 0;
    std::uint32_t worker = 0;
    std::uint32_t step = 0;
};

namespace detail {
constexpr std::uint64_t splitmix64(std::uint64_t z) noexcept {
    z += 0x9e37'79b9'7f4a'7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebull;
    return z ^ (z >> 31);
}
} // namespace detail

/// Counter-based stream: block b is Philox4x32-10 of counter (b_lo, b_hi, worker, step) under a
/// key derived from (seed, tensor, purpose). Random access by block makes every draw independent
/// of SIMD width and thread count: element i of a stage always uses block i / 4, lane i % 4.
class philox {
  public:
    using block_type = std::array<std::uint32_t, 4>;

    philox(const draw_context& c, purpose p, bool shared) noexcept
        : worker_(shared ? shared_worker : c.worker), step_(c.step) {
        const std::uint64_t k =
            detail::splitmix64(c.root.value ^ detail::splitmix64((std::uint64_t{c.tensor} << 32) |
                                                                 static_cast<std::uint32_t>(p)));
        key_ = {{static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32)}};
    }

    /// The four words of block b.
    block_type block(std::uint64_t b) const noexcept {
        const r123::Philox4x32::ctr_type ctr = {
            {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), worker_, step_}};
        const auto r = r123::Philox4x32{}(ctr, key_);
        return {r[0], r[1], r[2], r[3]};
    }

    /// Blocks first, first + 1, ... into out (4 words each; out.size() a multiple of 4), many
    /// at a time: the same words as block().
    void fill(std::uint64_t first, std::span<std::uint32_t> out) const noexcept {
        kernels::philox_blocks(kernels::arch{}, {key_[0], key_[1]}, worker_, step_, first, out);
    }

    /// Next word of the sequential stream (blocks 0, 1, 2, ... in order), drawn 16 blocks at a
    /// time through the vectorised kernel.
    std::uint32_t next() noexcept {
        if (lane_ == buf_.size()) [[unlikely]] {
            fill(counter_, buf_);
            counter_ += buf_.size() / 4;
            lane_ = 0;
        }
        return buf_[lane_++];
    }

    /// Uniform integer in [0, bound), bound > 0 (Lemire's multiply-shift with rejection: exact).
    std::uint32_t below(std::uint32_t bound) noexcept {
        std::uint64_t m = std::uint64_t{next()} * bound;
        auto low = static_cast<std::uint32_t>(m);
        if (low < bound) {
            const std::uint32_t threshold = (0u - bound) % bound;
            while (low < threshold) {
                m = std::uint64_t{next()} * bound;
                low = static_cast<std::uint32_t>(m);
            }
        }
        return static_cast<std::uint32_t>(m >> 32);
    }

  private:
    r123::Philox4x32::key_type key_{};
    std::uint32_t worker_;
    std::uint32_t step_;
    std::uint64_t counter_ = 0;
    std::array<std::uint32_t, 64> buf_;
    std::size_t lane_ = 64; // empty
};

/// The random word of slot j: lane j % 4 of block j / 4. Stochastic rounding draws through this,
/// so slot j gets the same word however the loop is split across lanes or threads. Words come
/// 256 at a time (64 blocks through the vectorised kernel), as loops mostly walk slots in order.
class slot_stream {
  public:
    slot_stream(const draw_context& c, purpose p) noexcept : rng_(c, p, /*shared=*/false) {}

    std::uint32_t operator()(std::size_t slot) noexcept {
        if (slot - first_ >= words) [[unlikely]] {
            first_ = slot & ~std::size_t{3};
            rng_.fill(first_ / 4, buf_);
        }
        return buf_[slot - first_];
    }

    /// f(j, word of slot j) for j in [first, last), the words drawn in bulk beforehand: the
    /// loop over f makes no draw calls, so a branch-free f vectorises.
    template <class F>
    void for_each(std::size_t first, std::size_t last, F f) noexcept {
        std::uint32_t w[words];
        for (std::size_t j0 = first; j0 < last; j0 += words) {
            const std::size_t len = last - j0 < words ? last - j0 : words;
            std::size_t i = 0; // slots before a block boundary, then whole blocks, then the rest
            for (; i < len && (j0 + i) % 4 != 0; ++i)
                w[i] = (*this)(j0 + i);
            const std::size_t whole = (len - i) / 4 * 4;
            rng_.fill((j0 + i) / 4, std::span(w + i, whole));
            for (i += whole; i < len; ++i)
                w[i] = (*this)(j0 + i);
            for (i = 0; i < len; ++i)
                f(j0 + i, w[i]);
        }
    }

  private:
    static constexpr std::size_t words = 256;
    philox rng_;
    std::size_t first_ = ~std::size_t{0} - words; // no slot is buffered yet
    std::array<std::uint32_t, words> buf_;
};

} // namespace commpress

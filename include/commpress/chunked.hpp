// SPDX-License-Identifier: MIT
// chunked<C>: a large tensor compressed as fixed-size chunks, each with its own random stream,
// in parallel on a thread_team; the bytes do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/thread_team.hpp>

namespace commpress {

/// Compresses x[i c, (i + 1) c) with C, for chunk i of c elements (the last one shorter), each
/// chunk drawing under its own seed, derived from C's seed and i. The chunks are independent,
/// so they compress and decompress in parallel: the thread count changes who does the work,
/// never the bytes. Chunking is part of the operator (a top-k keeps the top of each chunk), so
/// the chunk size is part of the configuration and of the fingerprint.
///
/// Constants: the chunks' randomness is independent and their errors add up coordinate-wise,
/// so omega and eta are the worst chunk's, alpha the worst chunk's (smallest).
///
/// Message: one header, a table of u32 payload sizes (one per chunk), then C's payloads.
/// A chunk holds below 2^32 elements, so the tensor itself may be larger.
template <class C>
class chunked {
    static_assert(
        requires(C & c, std::span<const float> x, std::span<std::byte> out,
                 const draw_context& ctx) { c.write_payload(x, out, ctx); },
        "chunked<C>: C must write payloads, as commpress::pipeline does");

  public:
    using inner_type = C;
    static constexpr bool unbiased = C::unbiased;
    static constexpr std::size_t default_chunk = std::size_t{1} << 20;

    /// `team` may be shared by several compressors (their calls take turns); none runs on the
    /// calling thread alone.
    explicit chunked(C c = {}, std::size_t chunk = default_chunk,
                     std::shared_ptr<thread_team> team = {}, message_options opts = {})
        : chunk_(chunk), team_(std::move(team)), opts_(opts) {
        if (chunk_ == 0 || chunk_ > std::numeric_limits<std::uint32_t>::max() ||
            c.max_payload_size(chunk_) > std::numeric_limits<std::uint32_t>::max())
            detail::fail_parameter("chunked: chunk = " + std::to_string(chunk_) +
                                   " elements; it must be at least 1 and its payload must stay "
                                   "below 2^32 bytes");
        fingerprint_builder f;
        f("chunked")(c.fingerprint())(chunk_);
        fingerprint_ = f.value();
        parts_.assign(team_ ? team_->size() : 1, c);
    }

    double omega(std::size_t n) const noexcept requires requires(const C& c) { c.omega(n); }
    {
        return worst(
            n, [](const C& c, std::size_t m) { return c.omega(m); }, true);
    }
    double eta(std::size_t n) const noexcept requires requires(const C& c) { c.eta(n); }
    {
        return worst(
            n, [](const C& c, std::size_t m) { return c.eta(m); }, true);
    }
    double alpha(std::size_t n) const noexcept requires requires(const C& c) { c.alpha(n); }
    {
        return worst(
            n, [](const C& c, std::size_t m) { return c.alpha(m); }, false);
    }

    /// Exact payload bits: the size table and every chunk's payload, each padded to a byte.
    std::size_t bits(std::size_t n) const noexcept requires requires(const C& c) { c.bits(n); }
    {
        return sum(n, [](const C& c, std::size_t m) { return 32 + (c.bits(m) + 7) / 8 * 8; });
    }

    std::size_t chunk() const noexcept { return chunk_; }
    std::size_t chunks(std::size_t n) const noexcept { return n / chunk_ + (n % chunk_ != 0); }

    std::size_t max_message_size(std::size_t n) const noexcept {
        return message_header::size +
               sum(n, [](const C& c, std::size_t m) { return 4 + c.max_payload_size(m); });
    }

    /// Compresses x into out (out.size() >= max_message_size(n)) and returns the bytes written.
    /// Allocates nothing once the workspaces have grown to this n. Advances the step counter.
    template <class T>
    std::size_t compress(std::span<const T> x, std::span<std::byte> out) {
        const std::size_t n = x.size(), count = chunks(n), cap = max_message_size(n);
        if (out.size() < cap)
            detail::fail_parameter("chunked::compress: the output buffer holds " +
                                   std::to_string(out.size()) + " bytes, max_message_size(" +
                                   std::to_string(n) + ") is " + std::to_string(cap));
        if (count > std::numeric_limits<std::uint32_t>::max())
            detail::fail_parameter("chunked::compress: more than 2^32 - 1 chunks");
        const std::uint32_t worker = parts_[0].stream_id().worker;
        // Chunk i is written where the largest payloads would put it, then moved down.
        const std::size_t table = message_header::size, first = table + 4 * count;
        const std::size_t slot = count ? parts_[0].max_payload_size(length(n, 0)) : 0;
        sizes_.resize(count);
        run(count, [&](std::size_t i, unsigned t) {
            sizes_[i] =
                parts_[t].write_payload(x.subspan(i * chunk_, length(n, i)),
                                        out.subspan(first + i * slot), context(i, worker, step_));
        });
        std::size_t end = first;
        for (std::size_t i = 0; i < count; ++i) {
            std::memmove(out.data() + end, out.data() + first + i * slot, sizes_[i]);
            detail::store_le(out.data() + table + 4 * i, sizes_[i], 4);
            end += sizes_[i];
        }
        const auto payload = out.subspan(table, end - table);
        message_header h;
        h.type = element_type_of<T>;
        h.flags = opts_.payload_checksum ? message_header::flag_payload_checksum : 0;
        h.fingerprint = fingerprint_;
        h.n = n;
        h.payload_bytes = payload.size();
        h.worker = worker;
        h.step = step_;
        h.payload_crc = opts_.payload_checksum ? crc32c(payload) : 0;
        write_header(h, out);
        ++step_;
        return end;
    }

    /// Convenience: compresses into a new vector (allocates).
    template <class T>
    std::vector<std::byte> compress(std::span<const T> x) {
        std::vector<std::byte> msg(max_message_size(x.size()));
        msg.resize(compress(x, std::span<std::byte>(msg)));
        return msg;
    }

    /// out = C(x). Checks every chunk before writing anything; a decode_error names the first
    /// bad chunk ("chunk[i]: ...") whatever the thread count.
    template <class T>
    void decompress(std::span<const std::byte> msg, std::span<T> out) {
        apply<false>(msg, out, T{1});
    }

    /// acc += weight * C(x), chunk by chunk, in parallel. Same checks as decompress.
    template <class T>
    void decompress_add(std::span<const std::byte> msg, std::span<T> acc,
                        std::type_identity_t<T> weight = T{1}) {
        apply<true>(msg, acc, weight);
    }

    std::string describe() const {
        return "chunked(" + parts_[0].describe() + " ; chunk " + std::to_string(chunk_) + ")";
    }
    const C& inner() const noexcept { return parts_[0]; }
    std::uint64_t fingerprint() const noexcept { return fingerprint_; }
    std::uint32_t step() const noexcept { return step_; }
    void set_step(std::uint32_t step) noexcept { step_ = step; }

  private:
    std::size_t length(std::size_t n, std::size_t i) const noexcept {
        return std::min(chunk_, n - i * chunk_);
    }

    // Chunk i draws under seed splitmix64(seed ^ splitmix64(i)): streams apart for every i.
    draw_context context(std::size_t i, std::uint32_t worker, std::uint32_t step) const noexcept {
        draw_context ctx = parts_[0].context(worker, step);
        ctx.root.value = detail::splitmix64(ctx.root.value ^ detail::splitmix64(i));
        return ctx;
    }

    // f over the (at most two) chunk lengths of an n-element tensor.
    template <class F>
    double worst(std::size_t n, F f, bool largest) const noexcept {
        const std::size_t count = chunks(n);
        if (count == 0)
            return f(parts_[0], 0);
        const double last = f(parts_[0], length(n, count - 1));
        if (count == 1)
            return last;
        const double full = f(parts_[0], chunk_);
        return largest ? std::max(full, last) : std::min(full, last);
    }

    template <class F>
    std::size_t sum(std::size_t n, F f) const noexcept {
        const std::size_t count = chunks(n);
        return count == 0 ? 0
                          : (count - 1) * f(parts_[0], chunk_) + f(parts_[0], length(n, count - 1));
    }

    template <class F>
    void run(std::size_t count, F f) {
        if (team_)
            team_->run(count, f);
        else
            for (std::size_t i = 0; i < count; ++i)
                f(i, 0u);
    }

    template <bool Add, class T>
    void apply(std::span<const std::byte> msg, std::span<T> out, T weight) {
        const std::size_t n = out.size(), count = chunks(n);
        const message_header h = read_header(msg, fingerprint_, n, opts_.payload_checksum);
        if constexpr (requires { parts_[0].sparsifier().valid_worker(h.worker); })
            if (!parts_[0].sparsifier().valid_worker(h.worker))
                detail::fail_decode("header.worker: worker id " + std::to_string(h.worker) +
                                    " is not valid for " + describe());
        const auto payload = msg.subspan(message_header::size);
        if (payload.size() / 4 < count)
            detail::fail_decode("chunked: payload shorter than its table of chunk sizes",
                                payload.size(), 4 * count);
        offsets_.resize(count + 1);
        offsets_[0] = 4 * count;
        for (std::size_t i = 0; i < count; ++i)
            offsets_[i + 1] = offsets_[i] + detail::load_le(payload.data() + 4 * i, 4);
        if (offsets_[count] != payload.size())
            detail::fail_decode("chunked: table and chunk sizes (bytes)", offsets_[count],
                                payload.size());
        const auto part = [&](std::size_t i) {
            return payload.subspan(offsets_[i], offsets_[i + 1] - offsets_[i]);
        };
        run(count, [&](std::size_t i, unsigned t) {
            try {
                parts_[t].check_payload(part(i), length(n, i));
            } catch (const decode_error& e) {
                detail::fail_decode("chunk[" + std::to_string(i) + "]." + e.what());
            }
        });
        run(count, [&](std::size_t i, unsigned t) {
            parts_[t].template read_payload<Add>(part(i), out.subspan(i * chunk_, length(n, i)),
                                                 weight, context(i, h.worker, h.step));
        });
    }

    std::size_t chunk_;
    std::shared_ptr<thread_team> team_;
    message_options opts_;
    std::uint64_t fingerprint_ = 0;
    std::uint32_t step_ = 0;
    std::vector<C> parts_;               // one copy of C (and its workspaces) per thread
    std::vector<std::uint32_t> sizes_;   // payload bytes of each chunk, while compressing
    std::vector<std::uint64_t> offsets_; // where each chunk's payload starts, while decoding
};

} // namespace commpress

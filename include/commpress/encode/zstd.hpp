// SPDX-License-Identifier: MIT
// encode::zstd<E> — an optional lossless back end: E's stream compressed as one Zstandard frame.
// Needs libzstd (link commpress::zstd); no other commpress header includes <zstd.h>.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zstd.h>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/stage.hpp>

namespace commpress::encode {

/// Zstandard (RFC 8878) over an inner encoder E. E writes its stream into a scratch buffer, which
/// is compressed as one frame at `level`, content size declared. The stream: the frame's length
/// in bytes as LEB128 (8-bit groups, 7 payload bits low first, then a continuation bit), then the
/// frame; length 0 stands for an empty E stream. Pays off on redundant streams (repeated values,
/// runs); costs a frame header (>= 6 bytes) on random ones.
/// Decoding checks the declared content size against E.max_bytes before decompressing (no
/// decompression bombs), and E's stream must end exactly.
/// The bytes depend on the libzstd version (encoders change between releases; every release reads
/// every frame): pin libzstd where byte-identical messages across machines matter.
template <class E>
struct zstd {
    static_assert(encoder<E>, "encode::zstd<E>: E must be an encoder such as encode::bitpack");

    int level = 3; ///< Zstandard level, ZSTD_minCLevel()..ZSTD_maxCLevel() (0: libzstd's default)
    E inner{};

    static constexpr std::string_view name = "zstd";

    void validate() const {
        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
            commpress::detail::fail_parameter(
                "zstd: level must be in [" + std::to_string(ZSTD_minCLevel()) + ", " +
                std::to_string(ZSTD_maxCLevel()) + "], got " + std::to_string(level));
        inner.validate();
    }
    void fingerprint(fingerprint_builder& f) const noexcept {
        f(name)(level);
        inner.fingerprint(f);
    }
    std::string describe() const {
        return std::string(name) + "(" + inner.describe() + ", level " + std::to_string(level) +
               ")";
    }

    /// A frame holds at most ZSTD_compressBound of its content, plus the length prefix.
    std::size_t max_bytes(const code_layout& l) const noexcept {
        const std::size_t frame = ZSTD_compressBound(inner.max_bytes(l));
        return leb128_size(frame) + frame;
    }

    void encode(const code_layout& l, std::span<const std::uint32_t> indices,
                std::span<const std::uint32_t> codes, bit_writer& w) const noexcept {
        scratch& s = scratch::local();
        grow(s.inner, inner.max_bytes(l));
        bit_writer iw(s.inner);
        inner.encode(l, indices, codes, iw);
        const std::size_t raw = iw.finish();
        if (raw == 0) {
            w.put(0, 8);
            return;
        }
        grow(s.frame, ZSTD_compressBound(raw));
        if (s.cctx == nullptr)
            std::terminate(); // out of memory in a noexcept function, as a failed vector growth
        ZSTD_CCtx_reset(s.cctx, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_compressionLevel, level);
        const std::size_t size =
            ZSTD_compress2(s.cctx, s.frame.data(), s.frame.size(), s.inner.data(), raw);
        if (ZSTD_isError(size))
            std::terminate(); // only memory exhaustion: the frame buffer holds compressBound
        for (std::uint64_t v = size;; v >>= 7) {
            w.put(static_cast<std::uint32_t>(v & 0x7f) | (v >= 0x80 ? 0x80u : 0u), 8);
            if (v < 0x80)
                break;
        }
        std::size_t k = 0;
        for (; k + 4 <= size; k += 4)
            w.put(static_cast<std::uint32_t>(commpress::detail::load_le(&s.frame[k], 4)), 32);
        for (; k < size; ++k)
            w.put(static_cast<std::uint32_t>(s.frame[k]), 8);
    }

    template <class Sink>
    void decode(const code_layout& l, bit_reader& r, Sink&& sink) const {
        const std::size_t content_bound = inner.max_bytes(l);
        const std::uint64_t len = length(r);
        scratch& s = scratch::local();
        std::size_t raw = 0;
        if (len > 0) {
            if (len > ZSTD_compressBound(content_bound))
                fail("frame length " + std::to_string(len) + " exceeds the bound " +
                     std::to_string(ZSTD_compressBound(content_bound)));
            if (len > r.remaining() / 8)
                fail("truncated: frame length " + std::to_string(len) + ", " +
                     std::to_string(r.remaining() / 8) + " bytes left");
            grow(s.frame, static_cast<std::size_t>(len));
            std::size_t k = 0;
            for (; k + 4 <= len; k += 4)
                commpress::detail::store_le(&s.frame[k], r.get(32), 4);
            for (; k < len; ++k)
                s.frame[k] = static_cast<std::byte>(r.get(8));
            const std::size_t whole = ZSTD_findFrameCompressedSize(s.frame.data(), k);
            check(whole, "frame");
            if (whole != k)
                fail("the frame takes " + std::to_string(whole) + " of " + std::to_string(k) +
                     " bytes");
            const unsigned long long size = ZSTD_getFrameContentSize(s.frame.data(), k);
            if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
                fail("the frame does not declare its content size");
            if (size == 0 || size > content_bound)
                fail("frame content size " + std::to_string(size) + ", expected 1 to " +
                     std::to_string(content_bound) + " (" + inner.describe() + " max_bytes)");
            if (s.dctx == nullptr)
                throw std::bad_alloc();
            raw = static_cast<std::size_t>(size);
            grow(s.inner, raw);
            const std::size_t got =
                ZSTD_decompressDCtx(s.dctx, s.inner.data(), raw, s.frame.data(), k);
            check(got, "decompress");
            if (got != raw)
                fail("decompressed " + std::to_string(got) + " bytes, the frame declares " +
                     std::to_string(raw));
        }
        bit_reader ir(std::span<const std::byte>(s.inner.data(), raw), "zstd content");
        inner.decode(l, ir, sink);
        ir.expect_end();
    }

  private:
    /// One per thread and per E (so zstd<zstd<E>> does not share with zstd<E>), kept for the
    /// thread's life: once the buffers have grown to the largest message, encode and decode
    /// allocate nothing (libzstd may still resize a context's workspace when sizes change a lot).
    /// thread_local keeps zstd<E> a plain copyable value that threads can share.
    struct scratch {
        std::vector<std::byte> inner, frame;
        ZSTD_CCtx* cctx = ZSTD_createCCtx();
        ZSTD_DCtx* dctx = ZSTD_createDCtx();

        scratch() = default;
        scratch(const scratch&) = delete;
        scratch& operator=(const scratch&) = delete;
        ~scratch() {
            ZSTD_freeCCtx(cctx);
            ZSTD_freeDCtx(dctx);
        }
        static scratch& local() noexcept {
            thread_local scratch s;
            return s;
        }
    };

    static void grow(std::vector<std::byte>& v, std::size_t size) {
        if (v.size() < size)
            v.resize(size);
    }

    static std::size_t leb128_size(std::uint64_t v) noexcept {
        std::size_t bytes = 1;
        for (; v >= 0x80; v >>= 7)
            ++bytes;
        return bytes;
    }

    /// The minimal LEB128 frame length (at most 10 groups, below 2^64).
    static std::uint64_t length(bit_reader& r) {
        std::uint64_t v = 0;
        for (unsigned k = 0; k < 10; ++k) {
            const std::uint32_t group = r.get(8);
            if (k == 9 && group > 1)
                fail("frame length overflows 64 bits");
            v |= std::uint64_t{group & 0x7f} << (7 * k);
            if ((group & 0x80) != 0)
                continue;
            if (k > 0 && group == 0)
                fail("frame length ends in a zero group (not minimal)");
            return v;
        }
        fail("frame length longer than 10 bytes"); // unreachable: group 9 has no continuation
    }

    static void check(std::size_t code, const char* what) {
        if (ZSTD_isError(code))
            fail(std::string(what) + ": " + ZSTD_getErrorName(code));
    }

    [[noreturn, gnu::cold]] static void fail(const std::string& what) {
        commpress::detail::fail_decode("payload.zstd: " + what);
    }
};

} // namespace commpress::encode

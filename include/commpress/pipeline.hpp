// SPDX-License-Identifier: MIT
// pipeline<S, Q, E>: sparsifier x quantizer x encoder composed at compile time, writing and
// reading self-describing messages, with the composition's theory constants.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/arch.hpp>
#include <commpress/kernels/scatter.hpp>

namespace commpress {

/// Compresses a tensor in three stages: S keeps m of n coordinates, Q maps the kept values to a
/// few scales and one code each, E turns coordinates and codes into bits. Parameters are run-time
/// values validated on construction; the composition's class (unbiased / contractive) and its
/// constants are derived at compile time.
///
/// Payload (after the 48-byte header): Q's scales as binary32, then E's bit stream, zero padded
/// to a byte. Stochastic stages draw from Philox keyed by (seed, tensor) and countered by the
/// sender's (worker, step); the header carries worker and step, so any pipeline of the same
/// configuration decodes any worker's message. Not thread-safe: one object per thread.
template <class S, class Q, class E>
class pipeline {
    static_assert(sparsifier<S>, "pipeline<S, Q, E>: S must be a sparsifier such as "
                                 "sparsify::top_k; the order is sparsifier, quantizer, encoder");
    static_assert(quantizer<Q>, "pipeline<S, Q, E>: Q must be a quantizer such as quantize::qsgd; "
                                "the order is sparsifier, quantizer, encoder");
    static_assert(encoder<E>, "pipeline<S, Q, E>: E must be an encoder such as encode::bitpack; "
                              "the order is sparsifier, quantizer, encoder");

  public:
    using sparsifier_type = S;
    using quantizer_type = Q;
    using encoder_type = E;

    /// E C(x) = x for the composition: both lossy stages are unbiased (independent randomness).
    static constexpr bool unbiased = S::unbiased && Q::unbiased;

    /// The sparsifier keeps a data-dependent number of coordinates (threshold): kept(n) is then
    /// the most it keeps, and the payload starts with the actual count as a 32-bit integer.
    static constexpr bool variable_count = requires { requires S::variable_count; };

  private:
    // Which theory constants the composition has (OPERATORS.md A.10).
    static constexpr bool derives_omega = unbiased && has_omega<S> && has_omega<Q>;
    static constexpr bool derives_alpha = has_alpha<S> && (has_alpha<Q> || has_omega<Q>);
    // S in C(eta, omega) followed by an exact quantizer (fp32 values) keeps S's constants.
    static constexpr bool derives_eta = has_eta<S> && requires { requires Q::exact; };

  public:
    explicit pipeline(S s = {}, Q q = {}, E e = {}, seed sd = {}, stream st = {},
                      message_options opts = {})
        : s_(s), q_(q), e_(e), seed_(sd), stream_(st), opts_(opts) {
        s_.validate();
        if constexpr (requires { s_.validate_worker(stream_.worker); })
            s_.validate_worker(stream_.worker); // perm_k: each worker owns one block
        q_.validate();
        e_.validate();
        fingerprint_builder f;
        f("commpress")(message_header::version);
        s_.fingerprint(f);
        q_.fingerprint(f);
        e_.fingerprint(f);
        f(seed_.value)(stream_.tensor);
        fingerprint_ = f.value();
    }

    /// Unbiased composition: 1 + omega = (1 + omega_S(n)) (1 + omega_Q(m)) (OPERATORS.md A.10a).
    /// With derives_eta: the variance constant of S in C(eta, omega).
    double omega(std::size_t n) const noexcept requires(derives_omega || derives_eta) {
        if constexpr (derives_eta)
            return s_.omega(n);
        else
            return (1.0 + s_.omega(n)) * (1.0 + q_.omega(s_.kept(n))) - 1.0;
    }

    /// Biased composition in EF-BV's class C(eta, omega): S's eta, the quantizer being exact.
    double eta(std::size_t n) const noexcept requires derives_eta { return s_.eta(n); }

    /// Payload bits (the theory's count, OPERATORS.md A.13): exact, for fixed-width encoders
    /// and a fixed kept count. The message adds the 48-byte header and pads to a byte.
    std::size_t bits(std::size_t n) const noexcept requires(has_exact_bits<E> && !variable_count) {
        const code_layout l = layout(n, s_.kept(n));
        return 32 * q_.scale_count(l.m) + e_.bits(l);
    }

    /// Contractive composition (B(alpha), EF21 notation), S a projection onto kept coordinates:
    /// alpha = alpha_S alpha_Q for a contractive Q, alpha_S (1 - omega_Q) for an unbiased Q
    /// (A.10c); 0 means no guarantee (omega_Q >= 1).
    double alpha(std::size_t n) const noexcept requires derives_alpha {
        const std::size_t m = s_.kept(n);
        if constexpr (has_alpha<Q>)
            return s_.alpha(n) * q_.alpha(m);
        else
            return s_.alpha(n) * std::max(0.0, 1.0 - q_.omega(m));
    }

    /// Bytes the message of an n-element tensor takes at most; exact for fixed-width encoders
    /// and a fixed kept count.
    std::size_t max_message_size(std::size_t n) const noexcept {
        return message_header::size + max_payload_size(n);
    }

    /// Compresses x into out (out.size() >= max_message_size(n)) and returns the bytes written.
    /// Allocates nothing once the workspace has grown to n. Advances the step counter.
    template <class T>
    std::size_t compress(std::span<const T> x, std::span<std::byte> out) {
        check_size(x.size(), "compress");
        const std::size_t cap = max_message_size(x.size());
        if (out.size() < cap)
            detail::fail_parameter("compress: the output buffer holds " +
                                   std::to_string(out.size()) + " bytes, max_message_size(" +
                                   std::to_string(x.size()) + ") is " + std::to_string(cap));
        const auto payload_out = out.subspan(message_header::size);
        const std::size_t payload = write_payload(x, payload_out, context(stream_.worker, step_));
        message_header h;
        h.type = element_type_of<T>;
        h.flags = opts_.payload_checksum ? message_header::flag_payload_checksum : 0;
        h.fingerprint = fingerprint_;
        h.n = x.size();
        h.payload_bytes = payload;
        h.worker = stream_.worker;
        h.step = step_;
        h.payload_crc = opts_.payload_checksum ? crc32c(payload_out.first(payload)) : 0;
        write_header(h, out);
        ++step_;
        return message_header::size + payload;
    }

    /// Convenience: compresses into a new vector (allocates).
    template <class T>
    std::vector<std::byte> compress(std::span<const T> x) {
        std::vector<std::byte> msg(max_message_size(x.size()));
        msg.resize(compress(x, std::span<std::byte>(msg)));
        return msg;
    }

    /// out = C(x) from a message. Throws decode_error before writing anything if msg is not a
    /// valid message of this configuration for out.size() elements.
    template <class T>
    void decompress(std::span<const std::byte> msg, std::span<T> out) {
        apply<false>(msg, out, T{1});
    }

    /// acc += weight * C(x), touching only the coordinates the message carries (no dense
    /// temporary). Same checks as decompress; equals decompress followed by an add, bit for bit.
    template <class T>
    void decompress_add(std::span<const std::byte> msg, std::span<T> acc,
                        std::type_identity_t<T> weight = T{1}) {
        apply<true>(msg, acc, weight);
    }

    /// Payload-level API, for messages that carry several payloads under one header (composite
    /// compressors, bucketed tensors): no header, no step counter. write_payload needs
    /// out.size() >= max_payload_size(n); read_payload needs a payload check_payload accepted.
    std::size_t max_payload_size(std::size_t n) const noexcept {
        // Scale counts and encoder bounds grow with m, so the largest m bounds every message.
        const code_layout l = layout(n, s_.kept(n));
        return (variable_count ? 4 : 0) + 4 * q_.scale_count(l.m) + e_.max_bytes(l);
    }

    /// The draw context of (worker, step) under this pipeline's seed and tensor id.
    draw_context context(std::uint32_t worker, std::uint32_t step) const noexcept {
        return {seed_, stream_.tensor, worker, step};
    }

    template <class T>
    std::size_t write_payload(std::span<const T> x, std::span<std::byte> out,
                              const draw_context& ctx) {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "pipeline::compress: the elements must be float or double");
        const selection<T> sel = s_.select(x, ctx, sws_);
        const code_layout l = layout(x.size(), sel.values.size());
        scales_.resize(q_.scale_count(l.m));
        codes_.resize(l.m);
        q_.quantize(sel.values, ctx, std::span<float>(scales_), std::span<std::uint32_t>(codes_));
        bit_writer w(out);
        if constexpr (variable_count)
            w.put(static_cast<std::uint32_t>(l.m), 32);
        for (float s : scales_)
            w.put(std::bit_cast<std::uint32_t>(s), 32);
        e_.encode(l, sel.indices, codes_, w);
        return w.finish();
    }

    /// Parses a whole payload for n elements without writing anything: every scale, index and
    /// code, and the exact end. Throws decode_error naming what is wrong.
    void check_payload(std::span<const std::byte> payload, std::size_t n) {
        bit_reader r(payload, "payload");
        const code_layout l = read_layout(r, n);
        read_scales(r, l.m);
        if constexpr (has_exact_bits<E> && requires { requires Q::every_code_valid; }) {
            // Every code the field width holds is valid and there are no indices: the exact
            // size and the zero padding are all there is to check.
            if (!l.sends_indices && e_.bits(l) == l.m * l.code_bits) {
                r.skip(e_.bits(l));
                return r.expect_end();
            }
        }
        e_.decode(l, r, code_check{q_});
        r.expect_end();
    }

    /// out = C(x) (Add = false) or out += weight * C(x) (Add = true) from a checked payload.
    template <bool Add, class T>
    void read_payload(std::span<const std::byte> payload, std::span<T> out, T weight,
                      const draw_context& ctx) {
        const std::size_t n = out.size();
        bit_reader r(payload, "payload");
        const code_layout l = read_layout(r, n);
        read_scales(r, l.m);
        std::span<const std::uint32_t> implicit;
        if constexpr (S::indices == index_mode::implicit)
            implicit = s_.implicit_indices(n, ctx, sws_);
        const auto dq = [&] {
            if constexpr (requires { q_.dequantizer(std::span<const float>(scales_), l.m); })
                return q_.dequantizer(std::span<const float>(scales_), l.m);
            else
                return q_.dequantizer(std::span<const float>(scales_));
        }();
        const T scale = static_cast<T>(s_.decode_scale(n));
        // A dense stream through a fixed-width encoder writes every slot; otherwise the encoder
        // may skip zero codes (and sparse streams skip coordinates): start from zero.
        constexpr bool every_slot =
            S::indices == index_mode::dense && (!Q::zero_code_is_zero || has_exact_bits<E>);
        if constexpr (!Add && !every_slot)
            std::fill(out.begin(), out.end(), T{0});
        if constexpr (S::indices == index_mode::dense) {
            e_.decode(l, r, dense_sink<Add, T, decltype(dq)>{dq, out.data(), scale, weight});
        } else { // scattered: in blocks, so that the scatter kernel can prefetch
            constexpr std::size_t block = 256;
            std::uint32_t at[block];
            T v[block];
            std::size_t fill = 0;
            const auto flush = [&] {
                kernels::scatter<Add>(kernels::arch{}, std::span<const std::uint32_t>(at, fill),
                                      std::span<const T>(v, fill), out, weight);
                fill = 0;
            };
            e_.decode(l, r, [&](std::size_t slot, std::uint32_t index, std::uint32_t code) {
                at[fill] = S::indices == index_mode::sent ? index : implicit[slot];
                v[fill] = scale * static_cast<T>(dq(slot, code));
                if (++fill == block)
                    flush();
            });
            flush();
        }
    }

    /// Checks that msg is a valid message of this configuration for n elements, as decompress
    /// does before writing anything, and returns its header. Throws decode_error naming what is
    /// wrong. Lets an aggregator reject a bad message before it touches any output.
    message_header check_message(std::span<const std::byte> msg, std::size_t n) {
        check_size(n, "decompress");
        const message_header h = read_header(msg, fingerprint_, n, opts_.payload_checksum);
        if constexpr (requires { s_.valid_worker(h.worker); })
            if (!s_.valid_worker(h.worker))
                detail::fail_decode("header.worker: worker id " + std::to_string(h.worker) +
                                    " is not valid for " + s_.describe());
        check_payload(msg.subspan(message_header::size), n);
        return h;
    }

    std::string describe() const {
        return s_.describe() + " | " + q_.describe() + " | " + e_.describe();
    }

    const S& sparsifier() const noexcept { return s_; }
    const Q& quantizer() const noexcept { return q_; }
    const E& encoder() const noexcept { return e_; }
    commpress::seed root_seed() const noexcept { return seed_; }
    commpress::stream stream_id() const noexcept { return stream_; }
    std::uint64_t fingerprint() const noexcept { return fingerprint_; }
    std::uint32_t step() const noexcept { return step_; }
    void set_step(std::uint32_t step) noexcept { step_ = step; }

  private:
    // Encoder sinks: called per code, or per block of codes by encoders that unpack in bulk
    // (a plain loop over a block vectorises).

    struct code_check { // raises decode_error at the first code Q does not accept
        const Q& q;
        void operator()(std::size_t slot, std::uint32_t, std::uint32_t code) const {
            if (!q.valid_code(code))
                detail::fail_decode("payload.code[" + std::to_string(slot) +
                                    "]: " + std::to_string(code) + " is not a valid " +
                                    std::string(Q::name) + " code");
        }
        void block(std::size_t first, std::span<const std::uint32_t> codes) const {
            std::size_t bad = 0; // a count, not a bool: GCC 12 vectorises sums, not bool ORs
            for (const std::uint32_t c : codes)
                bad += !q.valid_code(c);
            if (bad != 0)
                for (std::size_t i = 0; i < codes.size(); ++i)
                    (*this)(first + i, 0, codes[i]);
        }
    };

    template <bool Add, class T, class Dq>
    struct dense_sink { // out[slot] = C(x)_slot, or += weight C(x)_slot
        const Dq& dq;
        T* out;
        T scale, weight;
        void operator()(std::size_t slot, std::uint32_t, std::uint32_t code) const noexcept {
            const T v = scale * static_cast<T>(dq(slot, code));
            if constexpr (Add)
                out[slot] += weight * v;
            else
                out[slot] = v;
        }
        // Locals, not members: stores to out could alias them, which keeps GCC from vectorising.
        void block(std::size_t first, std::span<const std::uint32_t> codes) const noexcept {
            const Dq d = dq;
            const T s = scale, w = weight;
            T* const o = out + first;
            const auto put = [&](std::size_t i, auto v) {
                if constexpr (Add)
                    o[i] += w * (s * static_cast<T>(v));
                else
                    o[i] = s * static_cast<T>(v);
            };
            if constexpr (requires { d.block(first, codes, static_cast<float*>(nullptr)); }) {
                float v[256]; // the dequantizer converts in bulk (SIMD), the loop scales
                for (std::size_t i0 = 0; i0 < codes.size(); i0 += std::size(v)) {
                    const std::size_t len = std::min(std::size(v), codes.size() - i0);
                    d.block(first + i0, codes.subspan(i0, len), v);
                    for (std::size_t i = 0; i < len; ++i)
                        put(i0 + i, v[i]);
                }
            } else {
                for (std::size_t i = 0; i < codes.size(); ++i)
                    put(i, d(first + i, codes[i]));
            }
        }
    };

    code_layout layout(std::size_t n, std::size_t m) const noexcept {
        return {n, m, S::indices == index_mode::sent, q_.code_bits(), Q::zero_code_is_zero};
    }

    // The layout of a received payload: m is kept(n), or read from the payload and checked.
    code_layout read_layout(bit_reader& r, std::size_t n) const {
        std::size_t m = s_.kept(n);
        if constexpr (variable_count) {
            const std::size_t sent = r.get(32);
            if (sent > m)
                detail::fail_decode("payload.count: " + std::to_string(sent) +
                                    " kept coordinates, more than " + s_.describe() + " keeps of " +
                                    std::to_string(n));
            m = sent;
        }
        return layout(n, m);
    }

    static void check_size(std::size_t n, const char* where) {
        if (n > std::numeric_limits<std::uint32_t>::max())
            detail::fail_parameter(std::string(where) + ": " + std::to_string(n) +
                                   " elements; the message format indexes at most 2^32 - 1");
    }

    void read_scales(bit_reader& r, std::size_t m) {
        scales_.resize(q_.scale_count(m));
        for (std::size_t k = 0; k < scales_.size(); ++k) {
            scales_[k] = std::bit_cast<float>(r.get(32));
            if (!q_.valid_scale(scales_[k]))
                detail::fail_decode("payload.scale[" + std::to_string(k) +
                                    "]: " + std::to_string(scales_[k]) + " is not a valid " +
                                    std::string(Q::name) + " scale");
        }
    }

    template <bool Add, class T>
    void apply(std::span<const std::byte> msg, std::span<T> out, T weight) {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "pipeline::decompress: the elements must be float or double");
        const message_header h = check_message(msg, out.size()); // a bad one leaves out untouched
        read_payload<Add>(msg.subspan(message_header::size), out, weight,
                          context(h.worker, h.step));
    }

    [[no_unique_address]] S s_;
    [[no_unique_address]] Q q_;
    [[no_unique_address]] E e_;
    commpress::seed seed_;
    commpress::stream stream_;
    message_options opts_;
    std::uint64_t fingerprint_ = 0;
    std::uint32_t step_ = 0;
    typename S::workspace sws_;        // grows on first use, then reused
    std::vector<float> scales_;        // Q's scales of the current message
    std::vector<std::uint32_t> codes_; // Q's codes of the current message
};

} // namespace commpress

// SPDX-License-Identifier: MIT
// induced<C1, C2>: C1(x) + C2(x - C1(x)), a biased compressor made unbiased by compressing its
// error (Horvath & Richtarik, ICLR 2021; OPERATORS.md A.10d).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/pipeline.hpp>

namespace commpress {

/// The induced compressor of a contractive C1 in B(alpha) and an unbiased C2 in U(omega):
/// C(x) = C1(x) + C2(x - C1(x)) is unbiased with omega = omega_2 (1 - alpha_1), a drop-in for
/// methods that need unbiased compressors (DCGD, DIANA) instead of error feedback.
/// C2 draws from its own stream: the one of C1 with the top bit of the tensor id set, so the two
/// stages are independent. Message: one header, then a u32 with the size of C1's payload, C1's
/// payload and C2's payload. Same interface as pipeline.
template <class C1, class C2>
class induced {
    static_assert(!C1::unbiased && has_alpha<C1>,
                  "induced<C1, C2>: C1 must be a contractive compressor such as recipes::top_k");
    static_assert(C2::unbiased && has_omega<C2>,
                  "induced<C1, C2>: C2 must be an unbiased compressor such as recipes::rand_k");

  public:
    static constexpr bool unbiased = true;
    static constexpr std::uint32_t c2_tensor_bit = 0x8000'0000u;

    /// C1 brings the seed and stream; C2 brings only its stages' parameters.
    explicit induced(C1 c1 = {}, C2 c2 = {}, message_options opts = {})
        : c1_(std::move(c1)),
          c2_(c2.sparsifier(), c2.quantizer(), c2.encoder(), c1_.root_seed(),
              stream{c1_.stream_id().worker, c1_.stream_id().tensor ^ c2_tensor_bit}),
          opts_(opts) {
        fingerprint_builder f;
        f("induced")(c1_.fingerprint())(c2_.fingerprint());
        fingerprint_ = f.value();
    }

    /// omega_ind = omega_2 (1 - alpha_1) (A.10d: E||C2(e) - e||^2 <= omega_2 E||e||^2 and
    /// E||e||^2 <= (1 - alpha_1)||x||^2 for e = x - C1(x)).
    double omega(std::size_t n) const noexcept { return c2_.omega(n) * (1.0 - c1_.alpha(n)); }

    std::size_t max_message_size(std::size_t n) const noexcept {
        return message_header::size + 4 + c1_.max_payload_size(n) + c2_.max_payload_size(n);
    }

    template <class T>
    std::size_t compress(std::span<const T> x, std::span<std::byte> out) {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "induced::compress: the elements must be float or double");
        const std::size_t n = x.size(), cap = max_message_size(n);
        if (n > 0xffff'ffffu || out.size() < cap)
            detail::fail_parameter(
                "induced::compress: " + std::to_string(n) +
                " elements need a buffer of max_message_size = " + std::to_string(cap) +
                " bytes, got " + std::to_string(out.size()));
        const auto w = c1_.stream_id().worker;
        const auto p = out.subspan(message_header::size);
        const std::size_t p1 = c1_.write_payload(x, p.subspan(4), c1_.context(w, step_));
        detail::store_le(p.data(), p1, 4);
        // e = x - C1(x), from C1's own payload: exactly what the receiver will reconstruct.
        auto& e = residual<T>();
        e.resize(n);
        c1_.template read_payload<false>(p.subspan(4, p1), std::span<T>(e), T{1},
                                         c1_.context(w, step_));
        for (std::size_t i = 0; i < n; ++i)
            e[i] = x[i] - e[i];
        const std::size_t p2 =
            c2_.write_payload(std::span<const T>(e), p.subspan(4 + p1), c2_.context(w, step_));
        message_header h;
        h.type = element_type_of<T>;
        h.flags = opts_.payload_checksum ? message_header::flag_payload_checksum : 0;
        h.fingerprint = fingerprint_;
        h.n = n;
        h.payload_bytes = 4 + p1 + p2;
        h.worker = w;
        h.step = step_;
        h.payload_crc = opts_.payload_checksum ? crc32c(p.first(4 + p1 + p2)) : 0;
        write_header(h, out);
        ++step_;
        return message_header::size + 4 + p1 + p2;
    }

    template <class T>
    std::vector<std::byte> compress(std::span<const T> x) {
        std::vector<std::byte> msg(max_message_size(x.size()));
        msg.resize(compress(x, std::span<std::byte>(msg)));
        return msg;
    }

    /// out = C1(x) + C2(x - C1(x)); checks both payloads before writing anything.
    template <class T>
    void decompress(std::span<const std::byte> msg, std::span<T> out) {
        apply<false>(msg, out, T{1});
    }

    /// acc += weight C1(x) + weight C2(x - C1(x)) with no dense temporary. Equal to decompress
    /// then add up to one rounding per element (w (a + b) is not w a + w b in floating point).
    template <class T>
    void decompress_add(std::span<const std::byte> msg, std::span<T> acc,
                        std::type_identity_t<T> weight = T{1}) {
        apply<true>(msg, acc, weight);
    }

    std::string describe() const {
        return "induced(" + c1_.describe() + " ; " + c2_.describe() + ")";
    }
    std::uint64_t fingerprint() const noexcept { return fingerprint_; }
    std::uint32_t step() const noexcept { return step_; }
    void set_step(std::uint32_t step) noexcept { step_ = step; }

  private:
    template <bool Add, class T>
    void apply(std::span<const std::byte> msg, std::span<T> out, T weight) {
        const message_header h = read_header(msg, fingerprint_, out.size(), opts_.payload_checksum);
        const auto p = msg.subspan(message_header::size);
        if (p.size() < 4)
            detail::fail_decode("induced: payload shorter than its 4-byte part size", p.size(), 4);
        const std::uint64_t p1 = detail::load_le(p.data(), 4);
        if (p1 > p.size() - 4)
            detail::fail_decode("induced: size of C1's part exceeds the payload", p1, p.size() - 4);
        const auto part1 = p.subspan(4, p1), part2 = p.subspan(4 + p1);
        c1_.check_payload(part1, out.size());
        c2_.check_payload(part2, out.size());
        c1_.template read_payload<Add>(part1, out, weight, c1_.context(h.worker, h.step));
        c2_.template read_payload<true>(part2, out, weight, c2_.context(h.worker, h.step));
    }

    template <class T>
    std::vector<T>& residual() noexcept {
        if constexpr (std::is_same_v<T, float>)
            return ef_;
        else
            return ed_;
    }

    C1 c1_;
    C2 c2_;
    message_options opts_;
    std::uint64_t fingerprint_ = 0;
    std::uint32_t step_ = 0;
    std::vector<float> ef_;  // x - C1(x), reused
    std::vector<double> ed_; // the same for double inputs
};

} // namespace commpress

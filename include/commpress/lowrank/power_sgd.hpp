// SPDX-License-Identifier: MIT
// PowerSGD (Vogels, Karimireddy, Jaggi 2019; OPERATORS.md A.11) with its error feedback, as the
// authors' code runs it: rank r, one power iteration per step from the previous step's Q, and
// two all-reduces, of P and then of Q, since both are sums over the workers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/gaussian.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/feedback/ef14.hpp>
#include <commpress/lowrank/factors.hpp>
#include <commpress/lowrank/layout.hpp>
#include <commpress/lowrank/power_iteration.hpp>

namespace commpress::lowrank {

/// The operator's configuration, which every worker and the server share. Per matrix M_t
/// (rows x cols) of the layout with rank r_t = layout.rank(t, rank) > 0:
///   round 1: worker w sends P_w = M_w Q (rows x r_t); the sum P = sum_w P_w comes back;
///   round 2: every worker orthogonalises P into P^ (the same bits everywhere), sends
///            Q_w^T = P^T M_w (r_t x cols); the mean Q^T comes back;
///   the output P^ Q^T is the orthogonal projection of the mean of the M_w on span(P^), and
///   Q becomes the next step's start (warm start). The first Q is N(0, 1) from the shared seed,
///   not orthogonalised, as in the authors' code. Tensors with r_t = 0 travel as they are in
///   round 1, and their mean comes back with P.
/// Bits per worker and step: 32 (sum_t r_t (rows + cols) + the uncompressed elements).
struct power_sgd_options {
    std::size_t rank = 1;
    double epsilon = 1e-8; ///< added to the norms in Gram-Schmidt (the authors' code: 1e-8)
};

class power_sgd {
  public:
    /// The four messages of a step; each has its own fingerprint, so none passes for another.
    enum class part : std::uint8_t { p = 1, p_sum = 2, q = 3, q_mean = 4 };

    /// `id` names the worker (its messages carry it); it is not part of the configuration.
    power_sgd(power_sgd_options o, lowrank::layout l, seed s = {}, stream id = {},
              message_options m = {})
        : o_(o), layout_(std::move(l)), seed_(s), id_(id), msg_(m) {
        if (o_.rank == 0 || !(o_.epsilon >= 0))
            commpress::detail::fail_parameter(
                "power_sgd: rank must be >= 1 and epsilon >= 0, got " + std::to_string(o_.rank) +
                " and " + std::to_string(o_.epsilon));
        fingerprint_builder f;
        f("power_sgd")(o_.rank)(o_.epsilon)(seed_.value);
        layout_.fingerprint(f);
        fingerprint_ = f.value();
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const std::size_t r = layout_.rank(t, o_.rank);
            const tensor_shape& s = layout_.shape(t);
            p_values_ += r ? s.rows * r : s.size();
            q_values_ += r * s.cols;
        }
    }

    const power_sgd_options& options() const noexcept { return o_; }
    const lowrank::layout& layout() const noexcept { return layout_; }
    std::size_t rank(std::size_t t) const noexcept { return layout_.rank(t, o_.rank); }
    std::uint64_t fingerprint() const noexcept { return fingerprint_; }
    stream stream_id() const noexcept { return id_; }
    std::uint64_t fingerprint(part k) const noexcept {
        return commpress::detail::splitmix64(fingerprint_ ^ static_cast<std::uint64_t>(k));
    }
    const message_options& message() const noexcept { return msg_; }

    /// Numbers in round 1's messages (the P factors and the uncompressed tensors), and in
    /// round 2's (the Q factors).
    std::size_t p_values() const noexcept { return p_values_; }
    std::size_t q_values() const noexcept { return q_values_; }
    /// Exact payload bits a worker sends per step, both rounds.
    std::size_t bits() const noexcept { return 32 * (p_values_ + q_values_); }
    std::size_t max_message_size() const noexcept {
        return detail::factor_message_size(std::max(p_values_, q_values_));
    }

    /// The first Q^T of every factored tensor, back to back (q_values() numbers): N(0, 1) from
    /// the seed's shared stream of tensor t, the same on every worker.
    void initial_q(std::span<float> qt) const {
        std::size_t at = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const std::size_t n = rank(t) * layout_.shape(t).cols;
            normal_stream g(draw_context{seed_, static_cast<std::uint32_t>(t), 0, 0},
                            purpose::lowrank, /*shared=*/true);
            for (std::size_t k = 0; k < n; ++k)
                qt[at + k] = static_cast<float>(g());
            at += n;
        }
    }

    std::string describe() const {
        return "power_sgd(rank " + std::to_string(o_.rank) + ", epsilon " +
               std::to_string(o_.epsilon) + ", layout " + layout_.describe() + ")";
    }

  private:
    power_sgd_options o_;
    lowrank::layout layout_;
    seed seed_;
    stream id_;
    message_options msg_;
    std::uint64_t fingerprint_ = 0;
    std::size_t p_values_ = 0, q_values_ = 0;
};

namespace detail {

/// What a worker and the server both compute from the sum of the P messages: P^ and the
/// output P^ Q^T (plus the uncompressed tensors' mean). Keeping it in one place makes the
/// server's output the same bits as every worker's.
class power_sgd_state {
  public:
    power_sgd_state(const power_sgd& c, std::size_t d, std::size_t workers, const char* who)
        : c_(c), workers_(workers), p_(c.p_values()), qt_(c.q_values()) {
        if (d != c.layout().size() || workers == 0)
            commpress::detail::fail_parameter(
                std::string(who) + ": d = " + std::to_string(d) + " for a layout of " +
                std::to_string(c.layout().size()) + ", " + std::to_string(workers) + " workers");
        c_.initial_q(qt_);
        std::size_t work = 0;
        for (std::size_t t = 0; t < c.layout().tensors(); ++t)
            work = std::max(work, c.rank(t) * c.layout().shape(t).cols);
        work_.resize(work);
    }

    const power_sgd& config() const noexcept { return c_; }
    std::size_t workers() const noexcept { return workers_; }
    std::span<float> p() noexcept { return p_; }
    std::span<float> qt() noexcept { return qt_; }
    std::span<double> work() noexcept { return work_; }

    /// p() holds sum_w P_w: orthogonalise the factors (P^); the uncompressed part becomes its
    /// mean.
    void orthogonalize_sum() {
        const float inv = 1.0f / static_cast<float>(workers_);
        for_each([&](std::size_t t, std::size_t r, std::size_t, std::size_t pa, std::size_t) {
            const tensor_shape& s = c_.layout().shape(t);
            if (r)
                orthogonalize(matrix_view<float>(p().subspan(pa, s.rows * r), s.rows, r),
                              c_.options().epsilon);
            else
                for (float& v : p().subspan(pa, s.size()))
                    v *= inv;
        });
    }

    /// out (the model's d elements) = P^ Q^T for the factored tensors, the mean for the others,
    /// written 16 rows at a time; then(first, last, factored) follows each piece of
    /// out[first, last) while it is still in cache.
    template <class Then>
    void output(std::span<float> out, Then then) {
        for_each([&](std::size_t t, std::size_t r, std::size_t x, std::size_t pa, std::size_t qa) {
            const tensor_shape& s = c_.layout().shape(t);
            if (!r) {
                std::copy_n(p_.begin() + static_cast<std::ptrdiff_t>(pa), s.size(),
                            out.begin() + static_cast<std::ptrdiff_t>(x));
                then(x, x + s.size(), false);
                return;
            }
            const matrix_view<const float> qt(std::span<const float>(qt_).subspan(qa, r * s.cols),
                                              r, s.cols);
            for (std::size_t i0 = 0; i0 < s.rows; i0 += 16) {
                const std::size_t rows = std::min<std::size_t>(16, s.rows - i0);
                multiply<false, float>(
                    matrix_view<const float>(
                        std::span<const float>(p_).subspan(pa + i0 * r, rows * r), rows, r),
                    qt,
                    matrix_view<float>(out.subspan(x + i0 * s.cols, rows * s.cols), rows, s.cols));
                then(x + i0 * s.cols, x + (i0 + rows) * s.cols, true);
            }
        });
    }
    void output(std::span<float> out) {
        output(out, [](std::size_t, std::size_t, bool) {});
    }

    /// f(tensor, r_t, offset in x, offset in P's values, offset in Q's values).
    template <class F>
    void for_each(F f) const {
        std::size_t pa = 0, qa = 0;
        for (std::size_t t = 0; t < c_.layout().tensors(); ++t) {
            const std::size_t r = c_.rank(t);
            const tensor_shape& s = c_.layout().shape(t);
            f(t, r, c_.layout().offset(t), pa, qa);
            pa += r ? s.rows * r : s.size();
            qa += r * s.cols;
        }
    }

  private:
    power_sgd c_;
    std::size_t workers_;
    std::vector<float> p_, qt_;
    std::vector<double> work_;
};

} // namespace detail

/// Worker w of PowerSGD with the authors' error feedback (feedback::ef14, gamma on the worker:
/// M_w = e_w + gamma grad_w; the paper's EF on the raw gradient is the same for a constant step,
/// as the operator is positively homogeneous up to epsilon). Memory e_w = M_w - output, with the
/// aggregated output, as the authors' code; the uncompressed tensors keep no memory.
/// Rounds: step(grad) -> P message; answer(sum of P) -> Q message; receive(mean of Q).
class power_sgd_worker {
  public:
    power_sgd_worker(feedback::ef14 m, power_sgd c, std::size_t d, std::size_t workers)
        : s_(c, d, workers, "power_sgd_worker"), m_(d), e_(d, 0.0f), out_(d),
          worker_(c.stream_id().worker) {
        set_gamma(m.gamma);
    }

    std::size_t max_message_size() const noexcept { return s_.config().max_message_size(); }

    /// Round 1: M = e + gamma grad; writes P_w = M Q per factored tensor, the others as they are.
    std::size_t step(std::span<const float> grad, std::span<std::byte> out) {
        feedback::detail::check_dimension("power_sgd_worker::step", grad.size(), m_.size());
        const float gamma = static_cast<float>(gamma_);
        for (std::size_t j = 0; j < m_.size(); ++j)
            m_[j] = e_[j] + gamma * grad[j];
        s_.for_each([&](std::size_t t, std::size_t r, std::size_t x, std::size_t pa,
                        std::size_t qa) {
            const tensor_shape& sh = s_.config().layout().shape(t);
            const auto mt = std::span<const float>(m_).subspan(x, sh.size());
            if (r)
                multiply_by_transpose<float>(
                    matrix_view<const float>(mt, sh.rows, sh.cols),
                    matrix_view<const float>(
                        std::span<const float>(s_.qt()).subspan(qa, r * sh.cols), r, sh.cols),
                    matrix_view<float>(s_.p().subspan(pa, sh.rows * r), sh.rows, r));
            else
                std::copy(mt.begin(), mt.end(), s_.p().begin() + static_cast<std::ptrdiff_t>(pa));
        });
        return write(power_sgd::part::p, s_.p(), out);
    }

    /// Round 2: from the sum of the P messages, P^ = orth(P); writes Q_w^T = P^T M.
    std::size_t answer(std::span<const std::byte> p_sum, std::span<std::byte> out) {
        read(power_sgd::part::p_sum, p_sum, s_.p(), "power_sgd sum of P");
        s_.orthogonalize_sum();
        s_.for_each([&](std::size_t t, std::size_t r, std::size_t x, std::size_t pa,
                        std::size_t qa) {
            if (!r)
                return;
            const tensor_shape& sh = s_.config().layout().shape(t);
            multiply_transposed<float>(
                matrix_view<const float>(std::span<const float>(s_.p()).subspan(pa, sh.rows * r),
                                         sh.rows, r),
                matrix_view<const float>(std::span<const float>(m_).subspan(x, sh.size()), sh.rows,
                                         sh.cols),
                matrix_view<float>(s_.qt().subspan(qa, r * sh.cols), r, sh.cols), s_.work());
        });
        return write(power_sgd::part::q, s_.qt(), out);
    }

    /// End of the step, from the mean of the Q messages: the output P^ Q^T, the memory
    /// e = M - output on the factored tensors, and Q kept for the next step.
    void receive(std::span<const std::byte> q_mean) {
        read(power_sgd::part::q_mean, q_mean, s_.qt(), "power_sgd mean of Q");
        s_.output(out_, [&](std::size_t first, std::size_t last, bool factored) {
            for (std::size_t j = first; j < last; ++j)
                e_[j] = factored ? m_[j] - out_[j] : 0.0f;
        });
        ++step_;
    }

    void set_gamma(double gamma) {
        if (!(gamma > 0))
            commpress::detail::fail_parameter("power_sgd_worker: gamma must be > 0, got " +
                                              std::to_string(gamma));
        gamma_ = gamma;
    }
    std::span<const float> memory() const noexcept { return e_; }
    std::span<const float> output() const noexcept { return out_; } ///< of the last step
    std::uint32_t round() const noexcept { return step_; }

  private:
    std::size_t write(power_sgd::part k, std::span<const float> v, std::span<std::byte> out) {
        const power_sgd& c = s_.config();
        return detail::write_factors(v, c.fingerprint(k), m_.size(), worker_, step_, c.message(),
                                     out);
    }
    void read(power_sgd::part k, std::span<const std::byte> msg, std::span<float> v,
              const char* what) {
        const power_sgd& c = s_.config();
        const message_header h =
            detail::read_factors(msg, c.fingerprint(k), m_.size(), c.message(), what, v);
        if (h.step != step_)
            commpress::detail::fail_decode(std::string(what) + ": header.step", h.step, step_);
    }

    detail::power_sgd_state s_;
    std::vector<float> m_, e_, out_;
    double gamma_ = 0;
    std::uint32_t worker_, step_ = 0;
};

/// The server's half: receive(P_w) for each worker, p_sum(); receive_answer(Q_w) for each,
/// q_mean(); then update(x): x -= output (gamma was applied by the workers).
class power_sgd_server {
  public:
    power_sgd_server(feedback::ef14, power_sgd c, std::size_t d, std::size_t workers)
        : s_(c, d, workers, "power_sgd_server"), in_(std::max(c.p_values(), c.q_values())),
          msg_(c.max_message_size()), out_(d) {}

    void receive(std::span<const std::byte> msg) { add(0, power_sgd::part::p, msg, s_.p()); }
    /// Round 1's answer: sum_w P_w (and of the uncompressed tensors), to every worker.
    std::span<const std::byte> p_sum() {
        check_all(0, "p_sum");
        const auto m = finish(power_sgd::part::p, s_.p());
        s_.orthogonalize_sum();
        return m;
    }
    void receive_answer(std::span<const std::byte> msg) {
        add(1, power_sgd::part::q, msg, s_.qt());
    }
    /// Round 2's answer: the mean of the Q_w, to every worker.
    std::span<const std::byte> q_mean() {
        check_all(1, "q_mean");
        const float inv = 1.0f / static_cast<float>(s_.workers());
        for (float& v : s_.qt())
            v *= inv;
        return finish(power_sgd::part::q, s_.qt());
    }

    void update(std::span<float> x) {
        feedback::detail::check_dimension("power_sgd_server::update", x.size(), out_.size());
        if (stage_ != 2)
            commpress::detail::fail_parameter("power_sgd_server::update before q_mean()");
        s_.output(out_);
        for (std::size_t j = 0; j < x.size(); ++j)
            x[j] -= out_[j];
        stage_ = 0;
        ++step_;
    }
    std::span<const float> output() const noexcept { return out_; }
    std::uint32_t round() const noexcept { return step_; }

  private:
    void add(int stage, power_sgd::part k, std::span<const std::byte> msg, std::span<float> sum) {
        const power_sgd& c = s_.config();
        if (stage_ != stage)
            commpress::detail::fail_parameter(
                stage ? "power_sgd_server::receive_answer: round 2 has not begun (call p_sum())"
                      : "power_sgd_server::receive: round 2 is under way");
        const auto in = std::span<float>(in_).first(sum.size());
        const message_header h = detail::read_factors(msg, c.fingerprint(k), out_.size(),
                                                      c.message(), "power_sgd_server", in);
        if (h.step != step_)
            commpress::detail::fail_decode("power_sgd_server: header.step", h.step, step_);
        if (received_ == 0)
            std::fill(sum.begin(), sum.end(), 0.0f);
        for (std::size_t j = 0; j < sum.size(); ++j)
            sum[j] += in[j];
        ++received_;
    }
    void check_all(int stage, const char* what) {
        if (stage_ != stage || received_ != s_.workers())
            commpress::detail::fail_parameter("power_sgd_server::" + std::string(what) + ": " +
                                              std::to_string(received_) + " of " +
                                              std::to_string(s_.workers()) + " messages");
    }
    std::span<const std::byte> finish(power_sgd::part k, std::span<const float> v) {
        const power_sgd& c = s_.config();
        const power_sgd::part down =
            k == power_sgd::part::p ? power_sgd::part::p_sum : power_sgd::part::q_mean;
        const std::size_t used = detail::write_factors(v, c.fingerprint(down), out_.size(),
                                                       shared_worker, step_, c.message(), msg_);
        received_ = 0;
        ++stage_;
        return std::span<const std::byte>(msg_.data(), used);
    }

    detail::power_sgd_state s_;
    std::vector<float> in_;
    std::vector<std::byte> msg_;
    std::vector<float> out_;
    std::size_t received_ = 0;
    int stage_ = 0;
    std::uint32_t step_ = 0;
};

} // namespace commpress::lowrank

// SPDX-License-Identifier: MIT
// The in-process engine: n workers and a server exchanging real messages, every byte counted
// per direction, deterministic for a seed whatever the thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/thread_team.hpp>
#include <commpress/feedback.hpp>
#include <commpress/recipes.hpp>

namespace commpress::experiment {

/// One worker's share of the problem: f_i and its gradient. Distinct parts may be evaluated
/// on distinct threads at once.
template <class P>
concept problem_part = requires(P& p, const P& cp, std::span<const float> x, std::span<float> g) {
    { cp.dim() } -> std::convertible_to<std::size_t>;
    { p.loss_and_gradient(x, g) } -> std::convertible_to<double>;
};

struct simulation_options {
    /// Workers per round, drawn uniformly without replacement (EF21-PP); 0 = all.
    std::size_t participants = 0;
    std::uint64_t seed = 0; ///< of the participant draws
    /// Workers run on this team (none: the calling thread); results do not depend on it.
    std::shared_ptr<thread_team> team = nullptr;
};

/// The state after a round: bits per worker so far (the papers' x axis), and f and ||grad f||^2
/// at the point the round's gradients were taken. Both need every worker's f_i: in a round with
/// partial participation they are NaN and -1 (evaluate() computes them).
struct round_record {
    std::size_t round = 0;
    double bits_up = 0;   ///< worker -> server, per worker, cumulative, whole messages
    double bits_down = 0; ///< server -> worker, per worker, cumulative
    /// bits_up without the 48-byte headers: the papers' count (e.g. 32 k per top-k message
    /// plus the indices), to compare with their figures.
    double payload_bits_up = 0;
    double payload_bits_down = 0; ///< bits_down without the headers
    double loss = 0;
    double grad_norm2 = 0;
};

/// Method M with compressor C over n workers. Each round: the server broadcasts x as a binary32
/// message; each participating worker decodes it, computes its gradient and sends M's message;
/// the server receives them in worker order and updates x. With partial participation (EF21-PP)
/// the first round still has every worker: it sets the methods' starting states.
/// A bidirectional method (ef21_bc) broadcasts x^0 once, then after each update the server's
/// own message, which every worker applies to its copy of the model.
template <class M, class C>
class simulator {
  public:
    using worker_type = feedback::worker<M, C>;
    using server_type = feedback::server<M, C>;
    static constexpr bool bidirectional = requires(const server_type& s) { s.broadcast(); };
    /// PowerSGD's two all-reduces: after the messages, the server answers with the sum of P,
    /// each worker answers that with its Q, and the server's mean of Q ends the step.
    static constexpr bool two_rounds = requires(server_type & s) { s.q_mean(); };

    /// make(i) gives worker i's compressor (its stream names the worker); make(0) the server's.
    template <class Make>
    simulator(M method, Make make, std::size_t d, std::size_t n, simulation_options opts = {})
        : server_(method, make(0), d, n), opts_(std::move(opts)), d_(d) {
        if (n == 0 || opts_.participants > n)
            commpress::detail::fail_parameter("simulator: " + std::to_string(opts_.participants) +
                                              " participants of " + std::to_string(n) + " workers");
        if (std::is_same_v<M, feedback::marina> && opts_.participants != 0)
            commpress::detail::fail_parameter(
                "simulator: marina's shared coin needs every worker each round");
        if ((bidirectional || two_rounds) && opts_.participants != 0)
            commpress::detail::fail_parameter(
                "simulator: a bidirectional or two-round method needs every worker each round");
        workers_.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i)
            workers_.emplace_back(method, make(i), d, n);
        msg_.assign(n, std::vector<std::byte>(workers_[0].max_message_size()));
        used_.assign(n, 0);
        grad_.assign(n, std::vector<float>(d));
        const unsigned threads = opts_.team ? opts_.team->size() : 1;
        local_x_.assign(threads, std::vector<float>(d));
        readers_.resize(threads);
        down_.resize(fp32_.max_message_size(d));
        order_.resize(n);
    }

    /// One round on parts (one per worker) from the model x, which it updates.
    template <problem_part P>
    round_record round(std::span<P> parts, std::span<float> x) {
        const std::size_t n = workers_.size();
        if (parts.size() != n || x.size() != d_)
            commpress::detail::fail_parameter("simulator::round: " + std::to_string(parts.size()) +
                                              " parts and " + std::to_string(x.size()) +
                                              " coordinates for " + std::to_string(n) +
                                              " workers, d = " + std::to_string(d_));
        const std::span<const std::uint32_t> who = participants();
        std::size_t down = 0; // the broadcast of x, if this round has one
        if (!bidirectional || round_ == 0)
            down = fp32_.compress(std::span<const float>(x), down_);
        if constexpr (bidirectional) {
            if (round_ == 0)
                broadcast(std::span<const std::byte>(down_.data(), down));
        }
        std::vector<double>& loss = loss_;
        loss.assign(n, 0.0);
        const auto work = [&](std::size_t k, unsigned t) {
            const std::uint32_t i = who[k];
            std::span<const float> xi;
            if constexpr (bidirectional) {
                xi = workers_[i].model();
            } else {
                readers_[t].decompress(std::span<const std::byte>(down_.data(), down),
                                       std::span<float>(local_x_[t]));
                xi = local_x_[t];
            }
            loss[i] = parts[i].loss_and_gradient(xi, grad_[i]);
            used_[i] = workers_[i].step(std::span<const float>(grad_[i]), msg_[i]);
        };
        for_each_worker(who.size(), work);
        round_record r;
        r.round = ++round_;
        std::vector<double>& mean = mean_;
        mean.assign(d_, 0.0);
        for (const std::uint32_t i : who) {
            server_.receive(std::span<const std::byte>(msg_[i].data(), used_[i]));
            bytes_up_ += used_[i];
            payload_up_ += used_[i] - message_header::size;
            if (!bidirectional) {
                bytes_down_ += down;
                payload_down_ += down - message_header::size;
            }
            r.loss += loss[i] / static_cast<double>(n);
            for (std::size_t j = 0; j < d_; ++j)
                mean[j] += static_cast<double>(grad_[i][j]) / static_cast<double>(n);
        }
        if constexpr (two_rounds)
            second_round();
        server_.update(x);
        if constexpr (bidirectional)
            broadcast(server_.broadcast());
        r.bits_up = 8.0 * static_cast<double>(bytes_up_) / static_cast<double>(n);
        r.bits_down = 8.0 * static_cast<double>(bytes_down_) / static_cast<double>(n);
        r.payload_bits_up = 8.0 * static_cast<double>(payload_up_) / static_cast<double>(n);
        r.payload_bits_down = 8.0 * static_cast<double>(payload_down_) / static_cast<double>(n);
        if (who.size() == n) { // the gradients of every worker at the same x: grad f exactly
            for (const double g : mean)
                r.grad_norm2 += g * g;
        } else { // unknown without every worker: see evaluate()
            r.loss = std::numeric_limits<double>::quiet_NaN();
            r.grad_norm2 = -1;
        }
        return r;
    }

    std::span<worker_type> workers() noexcept { return workers_; }
    server_type& server() noexcept { return server_; }
    std::uint64_t bytes_up() const noexcept { return bytes_up_; }
    std::uint64_t bytes_down() const noexcept { return bytes_down_; }

  private:
    template <class F>
    void for_each_worker(std::size_t count, F&& f) {
        if (opts_.team)
            opts_.team->run(count, f);
        else
            for (std::size_t k = 0; k < count; ++k)
                f(k, 0u);
    }

    // Sum of P down, Q up, mean of Q down (every worker takes part).
    void second_round() {
        const std::span<const std::byte> p = server_.p_sum();
        for_each_worker(workers_.size(), [&](std::size_t i, unsigned) {
            used_[i] = workers_[i].answer(p, msg_[i]);
        });
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            server_.receive_answer(std::span<const std::byte>(msg_[i].data(), used_[i]));
            bytes_up_ += used_[i];
            payload_up_ += used_[i] - message_header::size;
        }
        broadcast_bytes(p.size());
        const std::span<const std::byte> q = server_.q_mean();
        for_each_worker(workers_.size(), [&](std::size_t i, unsigned) { workers_[i].receive(q); });
        broadcast_bytes(q.size());
    }
    void broadcast_bytes(std::size_t size) {
        bytes_down_ += size * workers_.size();
        payload_down_ += (size - message_header::size) * workers_.size();
    }

    // Every worker applies the server's message to its model copy.
    void broadcast(std::span<const std::byte> msg) {
        for_each_worker(workers_.size(),
                        [&](std::size_t i, unsigned) { workers_[i].receive(msg); });
        broadcast_bytes(msg.size());
    }

    // All workers in the first round (it sets the methods' starting states), then all or
    // `participants` of them drawn by a partial Fisher-Yates shuffle from the
    // round's shared stream, sorted (the server receives in worker order).
    std::span<const std::uint32_t> participants() {
        const std::size_t n = workers_.size();
        std::iota(order_.begin(), order_.end(), 0u);
        if (opts_.participants == 0 || opts_.participants == n || round_ == 0)
            return order_;
        philox rng(draw_context{seed{opts_.seed}, 0, 0, static_cast<std::uint32_t>(round_)},
                   purpose::user, /*shared=*/true);
        for (std::size_t k = 0; k < opts_.participants; ++k)
            std::swap(order_[k], order_[k + rng.below(static_cast<std::uint32_t>(n - k))]);
        std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(opts_.participants));
        return std::span<const std::uint32_t>(order_).first(opts_.participants);
    }

    std::vector<worker_type> workers_;
    server_type server_;
    simulation_options opts_;
    std::size_t d_;
    recipes::fp32 fp32_;                 // the broadcast
    std::vector<recipes::fp32> readers_; // its decoder on each thread
    std::vector<std::byte> down_;
    std::vector<std::vector<std::byte>> msg_;
    std::vector<std::size_t> used_;
    std::vector<std::vector<float>> grad_, local_x_;
    std::vector<double> loss_, mean_;
    std::vector<std::uint32_t> order_;
    std::size_t round_ = 0;
    std::uint64_t bytes_up_ = 0, bytes_down_ = 0, payload_up_ = 0, payload_down_ = 0;
};

/// f(x) = (1/n) sum f_i(x) and ||grad f(x)||^2, every part evaluated (grad is scratch space).
template <problem_part P>
std::pair<double, double> evaluate(std::span<P> parts, std::span<const float> x) {
    std::vector<double> mean(x.size(), 0.0);
    std::vector<float> g(x.size());
    double loss = 0;
    for (P& p : parts) {
        loss += p.loss_and_gradient(x, g) / static_cast<double>(parts.size());
        for (std::size_t j = 0; j < x.size(); ++j)
            mean[j] += static_cast<double>(g[j]) / static_cast<double>(parts.size());
    }
    double g2 = 0;
    for (const double v : mean)
        g2 += v * v;
    return {loss, g2};
}

} // namespace commpress::experiment

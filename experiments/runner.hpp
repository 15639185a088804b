// SPDX-License-Identifier: MIT
// What the experiments share: one arm (a method with a compressor, as types) run in the
// simulator until a tolerance, its curve as CSV rows, and the summary JSON and gnuplot figures.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <commpress/commpress.hpp>
#include <commpress/experiment/csv.hpp>
#include <commpress/experiment/gnuplot.hpp>
#include <commpress/experiment/idx.hpp>
#include <commpress/experiment/libsvm.hpp>
#include <commpress/experiment/progress.hpp>
#include <commpress/experiment/simulator.hpp>

namespace experiments {

namespace cp = commpress;
namespace ex = commpress::experiment;
namespace fb = commpress::feedback;

struct run_options {
    std::size_t max_rounds = 1000;
    double tolerance = 0; ///< stop once ||grad f||^2 < tolerance (0: run every round)
    std::size_t participants = 0;
    std::uint64_t seed = 0;
    std::shared_ptr<cp::thread_team> team = nullptr;
    std::vector<float> x0; ///< the starting point
};

/// The training data: Fashion-MNIST T-shirt vs Shirt (12,000 rows, 784 pixels / 255 and a bias
/// column), or a LIBSVM binary classification file (the papers' mushrooms, a9a, ...; Debian's
/// liblinear-tools ships heart_scale).
struct data_source {
    std::string dir = "/usr/share/datasets/fashion-mnist";
    std::string libsvm; ///< when set, this file instead of Fashion-MNIST
    ex::dataset load() const {
        return libsvm.empty() ? ex::load_fashion_mnist_binary(dir, ex::fashion_split::train)
                              : ex::read_libsvm(libsvm);
    }
};

/// The command line every simulator experiment shares; set the defaults, then add_to(app).
struct command_line {
    run_options run;
    std::size_t workers = 20;
    unsigned threads = 2;
    double target = 0;
    data_source data;
    std::string out;

    void add_to(CLI::App& app) {
        app.add_option("--rounds", run.max_rounds, "rounds per arm");
        app.add_option("--workers", workers, "workers");
        app.add_option("--target", target, "||grad f||^2 the bits are counted to");
        app.add_option("--threads", threads, "threads of the simulator");
        app.add_option("--data-dir", data.dir, "folder with the Fashion-MNIST .gz files");
        app.add_option("--libsvm", data.libsvm,
                       "a LIBSVM binary classification file to use instead of Fashion-MNIST");
        app.add_option("--out", out, "output folder");
    }
    /// After parsing: the thread team and the output folder.
    void prepare() {
        if (threads > 1)
            run.team = std::make_shared<cp::thread_team>(threads);
        std::filesystem::create_directories(out);
    }
    std::filesystem::path file(const std::string& name) const {
        return std::filesystem::path(out) / name;
    }
};

/// One arm's record: per round, the bits each worker sent so far and f, ||grad f||^2 there.
struct curve {
    std::string label;
    double gamma = 0;
    std::vector<double> bits, payload_bits, payload_bits_down, loss, grad2;
    bool diverged = false;
    std::vector<float> x; ///< the last iterate

    /// Payload bits per worker (uplink, or the downlink's) when ||grad f||^2 first fell below
    /// target; -1 if never.
    double payload_bits_to(double target, bool down = false) const {
        for (std::size_t r = 0; r < grad2.size(); ++r)
            if (grad2[r] < target)
                return (down ? payload_bits_down : payload_bits)[r];
        return -1;
    }
    /// Up and down together, per round: the x axis of a bidirectional comparison.
    std::vector<double> payload_bits_both() const {
        std::vector<double> b(payload_bits.size());
        for (std::size_t r = 0; r < b.size(); ++r)
            b[r] = payload_bits[r] + payload_bits_down[r];
        return b;
    }
    double final_grad2() const { return grad2.empty() ? NAN : grad2.back(); }
};

/// x0 ~ N(0, I) from splitmix64 and Box-Muller: the same start on every platform.
inline std::vector<float> gaussian_start(std::size_t d, std::uint64_t seed) {
    std::vector<float> x(d);
    const auto uniform = [&seed] {
        const std::uint64_t z = cp::detail::splitmix64(seed++);
        return (static_cast<double>(z >> 11) + 0.5) * 0x1p-53;
    };
    for (float& v : x)
        v = static_cast<float>(std::sqrt(-2 * std::log(uniform())) *
                               std::cos(6.283185307179586 * uniform()));
    return x;
}

/// Runs method M with compressor C (make(i) is worker i's) on the parts, from o.x0. Stops at
/// o.tolerance, at o.max_rounds, or when the iterates blow up (recorded as diverged).
template <class M, class C, class Make, class Part>
curve run(std::string label, M method, double gamma, Make make, std::span<Part> parts,
          const run_options& o, ex::csv_writer& csv) {
    method.gamma = gamma;
    const std::size_t d = o.x0.size(), n = parts.size();
    ex::simulator<M, C> sim(method, make, d, n,
                            {.participants = o.participants, .seed = o.seed, .team = o.team});
    std::vector<float> x = o.x0;
    curve c;
    c.label = std::move(label);
    c.gamma = gamma;
    ex::progress bar(c.label, o.max_rounds);
    for (std::size_t r = 0; r < o.max_rounds; ++r) {
        const ex::round_record rec = sim.round(parts, std::span<float>(x));
        double g2 = rec.grad_norm2, loss = rec.loss;
        if (g2 < 0) // partial participation: evaluate every part
            std::tie(loss, g2) = ex::evaluate(parts, std::span<const float>(x));
        csv.row(c.label, r, rec.bits_up, rec.payload_bits_up, rec.bits_down, rec.payload_bits_down,
                loss, g2);
        c.bits.push_back(rec.bits_up);
        c.payload_bits.push_back(rec.payload_bits_up);
        c.payload_bits_down.push_back(rec.payload_bits_down);
        c.loss.push_back(loss);
        c.grad2.push_back(g2);
        bar.update(r + 1);
        if (!std::isfinite(g2) || !std::isfinite(loss) || g2 > 1e30) {
            c.diverged = true;
            break;
        }
        if (g2 < o.tolerance)
            break;
    }
    bar.finish();
    c.x = std::move(x);
    return c;
}

inline ex::csv_writer open_csv(const std::filesystem::path& path) {
    return ex::csv_writer(path, {"arm", "round", "bits_up", "payload_bits_up", "bits_down",
                                 "payload_bits_down", "loss", "grad_norm_sq"});
}

/// The summary of a set of arms: gamma, rounds, final ||grad f||^2, and the payload bits per
/// worker to reach `target`.
inline nlohmann::json summary(const std::vector<curve>& curves, double target) {
    nlohmann::json arms = nlohmann::json::array();
    for (const curve& c : curves) {
        const double b = c.payload_bits_to(target), down = c.payload_bits_to(target, true);
        arms.push_back(
            {{"arm", c.label},
             {"gamma", c.gamma},
             {"rounds", c.grad2.size()},
             {"diverged", c.diverged},
             {"final_grad_norm_sq", c.final_grad2()},
             {"payload_bits_to_target", b < 0 ? nlohmann::json() : nlohmann::json(b)},
             {"payload_bits_down_to_target", down < 0 ? nlohmann::json() : nlohmann::json(down)}});
    }
    return {{"target_grad_norm_sq", target}, {"arms", arms}};
}

/// ||grad f||^2 against payload bits per worker (sent, or sent and received), log-log, one
/// line per arm.
inline void plot(const std::filesystem::path& png, const std::string& title,
                 const std::vector<curve>& curves, bool both_directions = false) {
    ex::line_plot p{.title = title,
                    .x_label = both_directions ? "bits sent + received per worker (payload)"
                                               : "bits sent per worker (payload)",
                    .y_label = "||grad f(x)||^2",
                    .log_x = true,
                    .log_y = true,
                    .lines = {}};
    for (const curve& c : curves)
        p.lines.push_back(
            {c.label, both_directions ? c.payload_bits_both() : c.payload_bits, c.grad2});
    ex::plot_png(png, p);
}

/// Prints one line per arm: the table the closing notes and docs/experiments.md quote. Bits to
/// target are payload bits per worker, sent (up) and received (down).
inline void print_table(const std::vector<curve>& curves, double target) {
    std::printf("%-34s %12s %8s %14s %16s %16s\n", "arm", "gamma", "rounds", "||grad f||^2",
                "up to target", "down to target");
    for (const curve& c : curves) {
        const auto bits = [&](bool down) {
            const double b = c.payload_bits_to(target, down);
            char s[32];
            std::snprintf(s, sizeof s, "%.4g", b);
            return std::string(c.diverged ? "diverged" : b < 0 ? "not reached" : s);
        };
        std::printf("%-34s %12.4g %8zu %14.4e %16s %16s\n", c.label.c_str(), c.gamma,
                    c.grad2.size(), c.final_grad2(), bits(false).c_str(), bits(true).c_str());
    }
}

} // namespace experiments

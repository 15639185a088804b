// SPDX-License-Identifier: MIT
// Wall-clock time to a target over MPI, one worker per rank (docs/distributed.md). Ridge least
// squares on seeded synthetic data of dimension d (default 2^20: a 4 MB float32 gradient), each
// rank with its own rows (its own planted model: heterogeneous parts). Each row gets an offset
// added to all its features, so that f has condition number ~ 1 + rows sigma^2 instead of ~1,
// as wide random matrices have. Methods:
//   GD, the gradients averaged by MPI_Allreduce in binary32 (the uncompressed baseline);
//   DIANA + natural compression (9 bits per value), and EF21 + top-k at its theory step and
//   at a tuned multiple, through mpi::engine.
// Each runs until ||grad f||^2 <= target ||grad f(x0)||^2 or its time budget. The clock runs
// during the rounds and stops while ||grad f||^2 is measured (every --eval rounds). Rank 0 writes
// curves.csv, summary.json, time.png and bits.png to --out.
//
//   mpirun -np 4 mpi_train [--dim 1048576] [--rows 16] [--offset 0.5] [--target 1e-6]
//                          [--seconds 90] [--eval 5] [--out results/mpi_train]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <mpi.h>
#include <nlohmann/json.hpp>

#include <commpress/comm/mpi.hpp>
#include <commpress/commpress.hpp>
#include <commpress/experiment/csv.hpp>
#include <commpress/experiment/gnuplot.hpp>
#include <commpress/experiment/least_squares.hpp>
#include <commpress/experiment/synthetic.hpp>

namespace cp = commpress;
namespace ex = commpress::experiment;
namespace fb = commpress::feedback;

namespace {

struct options {
    double target = 1e-6; // relative ||grad f||^2
    double seconds = 90;  // budget per method (clock time, measurements excluded)
    std::size_t eval = 5; // rounds between measurements
    std::size_t max_rounds = 100000;
};

struct curve {
    std::string label;
    std::vector<double> rounds, seconds, rel, bits;
    double to_target = -1; // seconds, -1: not reached
    std::size_t rounds_to_target = 0;
};

int rank_of() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/// f(x) and ||grad f(x)||^2 of the mean of the ranks' parts (double sums), untimed.
std::pair<double, double> evaluate(ex::least_squares& part, std::span<const float> x,
                                   std::vector<float>& g, std::vector<double>& sum) {
    int p = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    double f = part.loss_and_gradient(x, g);
    for (std::size_t j = 0; j < g.size(); ++j)
        sum[j] = g[j];
    MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, sum.data(), static_cast<int>(sum.size()), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
    double g2 = 0;
    for (const double v : sum)
        g2 += (v / p) * (v / p);
    return {f / p, g2};
}

/// Runs `round()` (one timed round of a method) from x = 0 until the target or the budget;
/// `bits()` is the payload bits per worker so far.
template <class Round, class Bits>
curve timed(const std::string& label, ex::least_squares& part, std::size_t d, const options& o,
            Round round, Bits bits) {
    std::vector<float> x(d, 0.0f), g(d);
    std::vector<double> sum(d);
    const double g0 = evaluate(part, x, g, sum).second;
    curve c;
    c.label = label;
    double clock = 0;
    const bool root = rank_of() == 0;
    for (std::size_t r = 0; r < o.max_rounds && clock < o.seconds;) {
        MPI_Barrier(MPI_COMM_WORLD); // every rank starts the timed rounds together
        const double t0 = MPI_Wtime();
        // Measurements every `eval` rounds, then at 5% steps: ~50 per decade of rounds.
        const std::size_t stride = std::max(o.eval, r / 20);
        for (std::size_t k = 0; k < stride; ++k, ++r)
            round(std::span<float>(x));
        MPI_Barrier(MPI_COMM_WORLD);
        clock += MPI_Wtime() - t0;
        const double rel = evaluate(part, x, g, sum).second / g0;
        c.rounds.push_back(static_cast<double>(r));
        c.seconds.push_back(clock);
        c.rel.push_back(rel);
        c.bits.push_back(bits());
        if (root && c.rounds.size() % 20 == 1)
            std::fprintf(stderr,
                         "%-26s round %6zu  %8.2f s  ||grad f||^2 / ||grad f(x0)||^2 %.3g\n",
                         label.c_str(), r, clock, rel);
        if (!std::isfinite(rel))
            break;
        if (rel <= o.target) {
            c.to_target = clock;
            c.rounds_to_target = r;
            break;
        }
    }
    if (root)
        std::fprintf(stderr, "%-26s %s after %zu rounds, %.2f s\n", label.c_str(),
                     c.to_target >= 0 ? "reached the target" : "stopped",
                     std::size_t(c.rounds.back()), clock);
    return c;
}

} // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    std::size_t d = std::size_t{1} << 20, rows = 16;
    double offset = 0.5, lambda = 1e-3, top_ratio = 0.1, ef21_factor = 16;
    std::uint64_t seed = 1;
    std::string out = "results/mpi_train";
    options o;
    CLI::App app{"wall-clock time to a target over MPI: GD (MPI_Allreduce fp32) vs compressed"};
    app.add_option("--dim", d, "model dimension d")->check(CLI::Range(1, 1 << 28));
    app.add_option("--rows", rows, "rows per rank")->check(CLI::Range(1, 1 << 20));
    app.add_option("--offset", offset, "standard deviation of the rows' offsets");
    app.add_option("--lambda", lambda, "ridge parameter");
    app.add_option("--top", top_ratio, "top-k ratio for EF21")->check(CLI::Range(1e-6, 1.0));
    app.add_option("--ef21-factor", ef21_factor,
                   "EF21's second run: its theory step times this (the papers tune it)");
    app.add_option("--target", o.target, "stop at ||grad f||^2 <= target ||grad f(x0)||^2");
    app.add_option("--seconds", o.seconds, "time budget per method (s)");
    app.add_option("--eval", o.eval, "rounds between measurements")->check(CLI::Range(1, 1000));
    app.add_option("--seed", seed, "data seed (rank r draws from seed + r)");
    app.add_option("--out", out, "output folder (rank 0)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        MPI_Finalize();
        return rc;
    }
    const int me = rank_of();
    int p = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    const bool root = me == 0;
    try {
        // This rank's rows, each shifted by an offset ~ N(0, offset^2).
        ex::dataset data = ex::synthetic_regression(rows, d, seed + std::uint64_t(me), 0.1);
        std::uint64_t s = 0x5eed0000u + std::uint64_t(me);
        for (std::size_t i = 0; i < rows; ++i) {
            const double u1 =
                (static_cast<double>(cp::detail::splitmix64(s) >> 11) + 0.5) * 0x1p-53;
            const double u2 = static_cast<double>(cp::detail::splitmix64(s) >> 11) * 0x1p-53;
            const auto m = static_cast<float>(offset * std::sqrt(-2 * std::log(u1)) *
                                              std::cos(6.283185307179586 * u2));
            for (std::size_t j = 0; j < d; ++j)
                data.features[i * d + j] += m;
        }
        ex::least_squares part(data, {0, rows}, lambda);
        // L <= mean L_i (the Hessian is the mean of the parts'); L~ = sqrt(mean L_i^2).
        const double Li = part.smoothness();
        double sums[2] = {Li, Li * Li};
        MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        const fb::smoothness sm{sums[0] / p, std::sqrt(sums[1] / p)};
        if (root)
            std::fprintf(stderr,
                         "%d ranks, d = %zu (%.1f MB gradient), %zu rows per rank, L <= %.4g, "
                         "L~ = %.4g\n",
                         p, d, 4e-6 * double(d), rows, sm.L, sm.L_tilde);
        std::vector<curve> curves;
        { // GD: the mean gradient by MPI_Allreduce (ring or as MPI chooses), x -= g / L
            std::vector<float> g(d);
            std::size_t done = 0;
            const float gamma = static_cast<float>(1 / sm.L), inv_p = 1.0f / float(p);
            curves.push_back(timed(
                "GD, MPI_Allreduce fp32", part, d, o,
                [&](std::span<float> x) {
                    part.loss_and_gradient(std::span<const float>(x), g);
                    MPI_Allreduce(MPI_IN_PLACE, g.data(), static_cast<int>(d), MPI_FLOAT, MPI_SUM,
                                  MPI_COMM_WORLD);
                    for (std::size_t j = 0; j < d; ++j)
                        x[j] -= gamma * (g[j] * inv_p);
                    ++done;
                },
                [&] { return 32.0 * double(d) * double(done); }));
        }
        const auto run_engine = [&]<class M, class C>(const std::string& label, M method, C c) {
            cp::mpi::engine<M, C> eng(method, c, d, MPI_COMM_WORLD);
            return timed(
                label, part, d, o, [&](std::span<float> x) { eng.step(part, x); },
                [&] { return 8.0 * double(eng.payload_bytes_up()) / double(p); });
        };
        const auto worker = static_cast<std::uint32_t>(me);
        {
            using C = cp::recipes::natural;
            const C c{{}, {}, {}, cp::seed{7}, cp::stream{.worker = worker}};
            curves.push_back(run_engine("DIANA + natural (9 bits)",
                                        fb::diana{.gamma = fb::diana_gamma(c.omega(d), p, sm.L)},
                                        c));
        }
        {
            using C = cp::recipes::top_k;
            const C c{{.ratio = top_ratio}, {}, {}, cp::seed{7}, cp::stream{.worker = worker}};
            const double gamma = fb::ef21_gamma(c.alpha(d), sm);
            char label[80];
            std::snprintf(label, sizeof label, "EF21 + top-k %g%%", 100 * top_ratio);
            curves.push_back(run_engine(label, fb::ef21{.gamma = gamma}, c));
            std::snprintf(label, sizeof label, "EF21 + top-k %g%%, step x%g", 100 * top_ratio,
                          ef21_factor);
            curves.push_back(run_engine(label, fb::ef21{.gamma = ef21_factor * gamma}, c));
        }
        if (root) {
            std::filesystem::create_directories(out);
            ex::csv_writer csv(
                std::filesystem::path(out) / "curves.csv",
                {"method", "round", "seconds", "rel_grad_norm2", "payload_bits_per_worker"});
            nlohmann::json js{{"ranks", p},
                              {"dim", d},
                              {"rows_per_rank", rows},
                              {"offset", offset},
                              {"lambda", lambda},
                              {"target", o.target},
                              {"L", sm.L},
                              {"L_tilde", sm.L_tilde}};
            ex::line_plot by_time{"least squares, d = " + std::to_string(d) + ", " +
                                      std::to_string(p) + " ranks: wall-clock time",
                                  "seconds (measurements excluded)",
                                  "||grad f||^2 / ||grad f(x0)||^2",
                                  false,
                                  true,
                                  {}};
            ex::line_plot by_bits = by_time;
            by_bits.title = "least squares, d = " + std::to_string(d) + ": bits";
            by_bits.x_label = "payload bits per worker";
            by_bits.log_x = true;
            std::printf("%-26s %8s %10s %10s %12s\n", "method", "rounds", "seconds", "s/round",
                        "bits/worker");
            for (const curve& c : curves) {
                for (std::size_t i = 0; i < c.rounds.size(); ++i)
                    csv.row(c.label, c.rounds[i], c.seconds[i], c.rel[i], c.bits[i]);
                by_time.lines.push_back({c.label, c.seconds, c.rel});
                by_bits.lines.push_back({c.label, c.bits, c.rel});
                const double r = c.rounds.back(), t = c.seconds.back();
                js["methods"][c.label] = {
                    {"rounds", r},
                    {"seconds", t},
                    {"seconds_per_round", t / r},
                    {"payload_bits_per_worker", c.bits.back()},
                    {"seconds_to_target",
                     c.to_target >= 0 ? nlohmann::json(c.to_target) : nlohmann::json()},
                    {"rounds_to_target",
                     c.to_target >= 0 ? nlohmann::json(c.rounds_to_target) : nlohmann::json()}};
                std::printf("%-26s %8.0f %10.2f %10.4f %12.4g  %s\n", c.label.c_str(), r, t, t / r,
                            c.bits.back(),
                            c.to_target >= 0 ? "reached the target" : "did not reach the target");
            }
            std::ofstream(std::filesystem::path(out) / "summary.json") << js.dump(2) << '\n';
            ex::plot_png(std::filesystem::path(out) / "time.png", by_time);
            ex::plot_png(std::filesystem::path(out) / "bits.png", by_bits);
            std::printf("wrote %s/{curves.csv,summary.json,time.png,bits.png}\n", out.c_str());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: %s\n", me, e.what());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return 0;
}

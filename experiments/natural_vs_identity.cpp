// SPDX-License-Identifier: MIT
// Experiment 4 (OPERATORS.md A.9, A.10, E.3): natural compression against no compression, and
// natural dithering against random dithering (QSGD) at about the same bits, on Fashion-MNIST
// softmax regression (10 classes, d = 10 x 785 = 7,850; the first `rows` training rows in file
// order, L2 regularisation lambda) over 20 workers, x0 = 0. Arms:
// - GD: binary32 messages, step 1/L;
// - DCGD with C_nat, step 1/((1 + omega/n) L) (the unbiased-compression GD step);
// - DIANA with C_nat, with natural dithering (s levels 2^{1-s}..1) and with QSGD (s uniform
//   levels), each at DIANA's step 1/((1 + 6 omega/n) L).
// With --libsvm FILE the problem is two-class softmax regression on that file.
//
//   natural_vs_identity [--rounds 600] [--workers 20] [--rows 12000] [--lambda 1] [--levels 8]
//                       [--qsgd-levels 128] [--target 1e-8] [--threads 2]
//                       [--data-dir DIR | --libsvm FILE]
//                       [--out results/natural_vs_identity]
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

namespace {
using fp32 = cp::recipes::fp32;
using natural = cp::recipes::natural;
using natural_dithering = cp::recipes::natural_dithering;
using qsgd = cp::recipes::qsgd;

/// Rounds until ||grad f||^2 < target (1-based), or 0.
std::size_t rounds_to(const curve& c, double target) {
    for (std::size_t r = 0; r < c.grad2.size(); ++r)
        if (c.grad2[r] < target)
            return r + 1;
    return 0;
}
} // namespace

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 600;
    cl.workers = 20;
    std::size_t rows = 12000;
    std::uint32_t levels = 8, qsgd_levels = 128; // about the same bits per round
    double lambda = 1;
    cl.target = 1e-8;
    cl.out = "results/natural_vs_identity";
    CLI::App app{"natural compression vs identity, natural vs random dithering (OPERATORS.md "
                 "A.9, A.10, E.3)"};
    cl.add_to(app);
    app.add_option("--rows", rows, "training rows (the first ones)");
    app.add_option("--lambda", lambda, "L2 regularisation");
    app.add_option("--levels", levels, "s of natural dithering");
    app.add_option("--qsgd-levels", qsgd_levels, "s of QSGD");
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        std::size_t classes = 10;
        cpx::dataset set;
        if (data.libsvm.empty()) {
            set = cpx::load_fashion_mnist(data.dir, cpx::fashion_split::train);
        } else { // labels +-1 -> classes 1 and 0
            set = data.load();
            for (float& y : set.labels)
                y = y > 0 ? 1.0f : 0.0f;
            classes = 2;
        }
        set.rows = std::min(rows, set.rows);
        set.features.resize(set.rows * set.cols);
        set.labels.resize(set.rows);
        auto p = split_as<cpx::softmax_regression>(std::move(set), workers, false, classes, lambda);
        const std::size_t d = p.dim();
        const double L = p.sm.L, n = double(workers);
        o.x0.assign(d, 0.0f);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));
        const auto make = [&]<class C>(std::type_identity<C>) {
            return [s = std::is_same_v<C, qsgd> ? qsgd_levels : levels](std::uint32_t i) {
                typename C::quantizer_type q{};
                if constexpr (requires { q.levels; })
                    q.levels = s;
                return C{{}, q, {}, cp::seed{7}, cp::stream{.worker = i}};
            };
        };
        const auto nat = make(std::type_identity<natural>{});
        const auto dith = make(std::type_identity<natural_dithering>{});
        const auto rand = make(std::type_identity<qsgd>{});
        const double w_nat = nat(0).omega(d), w_dith = dith(0).omega(d), w_rand = rand(0).omega(d);
        std::fprintf(stderr, "omega: natural %.4g, natural dithering %.4g, qsgd %.4g\n", w_nat,
                     w_dith, w_rand);
        std::vector<curve> curves;
        curves.push_back(run<fb::dcgd, fp32>("GD (fp32)", fb::dcgd{}, 1 / L,
                                             make(std::type_identity<fp32>{}), std::span(p.parts),
                                             o, csv));
        curves.push_back(run<fb::dcgd, natural>("DCGD natural", fb::dcgd{},
                                                1 / ((1 + w_nat / n) * L), nat, std::span(p.parts),
                                                o, csv));
        curves.push_back(run<fb::diana, natural>("DIANA natural", fb::diana{},
                                                 fb::diana_gamma(w_nat, workers, L), nat,
                                                 std::span(p.parts), o, csv));
        curves.push_back(run<fb::diana, natural_dithering>(
            "DIANA natural dithering s=" + std::to_string(levels), fb::diana{},
            fb::diana_gamma(w_dith, workers, L), dith, std::span(p.parts), o, csv));
        curves.push_back(run<fb::diana, qsgd>("DIANA QSGD s=" + std::to_string(qsgd_levels),
                                              fb::diana{}, fb::diana_gamma(w_rand, workers, L),
                                              rand, std::span(p.parts), o, csv));
        csv.close();
        auto js = summary(curves, target);
        js["experiment"] = "natural_vs_identity";
        js["omega"] = {{"natural", w_nat}, {"natural_dithering", w_dith}, {"qsgd", w_rand}};
        nlohmann::json to_target = nlohmann::json::object();
        for (const curve& c : curves) {
            const std::size_t r = rounds_to(c, target);
            to_target[c.label] = r ? nlohmann::json(r) : nlohmann::json();
            std::printf("%s: %s rounds to ||grad f||^2 < %g\n", c.label.c_str(),
                        r ? std::to_string(r).c_str() : "not reached", target);
        }
        js["rounds_to_target"] = to_target;
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        plot(cl.file("natural_vs_identity.png"),
             "natural compression and dithering vs fp32, softmax regression, " +
                 std::to_string(workers) + " workers",
             curves);
        print_table(curves, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "natural_vs_identity: %s\n", e.what());
        return 1;
    }
}

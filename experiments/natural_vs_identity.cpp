// SPDX-License-Identifier: MIT
// Experiment 4 (OPERATORS.md A.9, E.3): natural compression against no compression. C_nat sends
// 9 bits per coordinate instead of 32 and adds omega = 1/8 of variance, so DCGD with it should
// need about as many rounds as gradient descent for 32/9 = 3.56 times fewer bits. DIANA with
// C_nat is shown beside it. L2-regularised logistic regression on Fashion-MNIST T-shirt vs Shirt,
// rows in file order over 20 workers, steps 1 / ((1 + omega / n) L) (DCGD, B.1) and DIANA's.
//
//   natural_vs_identity [--rounds 1000] [--workers 20] [--lambda 1] [--target 1e-8]
//                       [--threads 2] [--data-dir DIR | --libsvm FILE]
//                       [--out results/natural_vs_identity]
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 1000;
    cl.workers = 20;
    double lambda = 1;
    cl.target = 1e-8;
    cl.out = "results/natural_vs_identity";
    CLI::App app{"natural compression vs identity (OPERATORS.md A.9, E.3)"};
    cl.add_to(app);
    app.add_option("--lambda", lambda, "L2 regularisation");
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        auto p = split(data.load(), workers, lambda, cpx::regulariser::l2, false);
        const std::size_t d = p.dim();
        o.x0.assign(d, 0.0f);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));
        using fp32 = cp::recipes::fp32;
        using natural = cp::recipes::natural;
        const auto make_fp32 = [](std::uint32_t i) {
            return fp32{{}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const auto make_nat = [](std::uint32_t i) {
            return natural{{}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const double omega = make_nat(0).omega(d), n = double(workers);
        std::vector<curve> curves;
        curves.push_back(run<fb::dcgd, fp32>("GD (fp32)", fb::dcgd{}, 1 / p.sm.L, make_fp32,
                                             std::span(p.parts), o, csv));
        curves.push_back(run<fb::dcgd, natural>("DCGD natural", fb::dcgd{},
                                                1 / ((1 + omega / n) * p.sm.L), make_nat,
                                                std::span(p.parts), o, csv));
        curves.push_back(run<fb::diana, natural>("DIANA natural", fb::diana{},
                                                 fb::diana_gamma(omega, workers, p.sm.L), make_nat,
                                                 std::span(p.parts), o, csv));
        csv.close();
        auto js = summary(curves, target);
        js["experiment"] = "natural_vs_identity";
        js["omega"] = omega;
        nlohmann::json rounds = nlohmann::json::object();
        for (const curve& c : curves) {
            std::size_t r = 0;
            while (r < c.grad2.size() && !(c.grad2[r] < target))
                ++r;
            rounds[c.label] = r < c.grad2.size() ? nlohmann::json(r + 1) : nlohmann::json();
            std::printf("%s: %s rounds to ||grad f||^2 < %g\n", c.label.c_str(),
                        r < c.grad2.size() ? std::to_string(r + 1).c_str() : "not reached", target);
        }
        js["rounds_to_target"] = rounds;
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        plot(cl.file("natural_vs_identity.png"),
             "natural compression vs fp32, Fashion-MNIST, " + std::to_string(workers) + " workers",
             curves);
        print_table(curves, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "natural_vs_identity: %s\n", e.what());
        return 1;
    }
}

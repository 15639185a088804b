// SPDX-License-Identifier: MIT
// Experiment 1 (OPERATORS.md E.1): EF21 against classic error feedback with top-k, k = 1 and 8,
// at EF21's theoretical step times 1, 4, 16, ..., 1024 (the EF-BV scripts go to 1024);
// ||grad f||^2 against the bits each worker sends. Logistic regression with the nonconvex
// regulariser (lambda = 0.1) on Fashion-MNIST T-shirt vs Shirt, rows sorted by label over 20
// workers, x0 ~ N(0, I).
//
//   ef21_vs_ef [--rounds 2000] [--workers 20] [--ks 1,8] [--factors 1,4,16,64,256,1024]
//              [--target 0.1] [--threads 2] [--data-dir DIR | --libsvm FILE]
//              [--out results/ef21_vs_ef]
//
// Output: a table on stdout, OUT/curves.csv, OUT/summary.json, OUT/k<k>.png per k.
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
    cl.run.max_rounds = 2000;
    cl.workers = 20;
    std::vector<std::size_t> ks{1, 8};
    std::vector<double> factors{1, 4, 16, 64, 256, 1024};
    double lambda = 0.1;
    cl.target = 0.1;
    cl.out = "results/ef21_vs_ef";
    CLI::App app{"EF21 vs EF with top-k (OPERATORS.md E.1)"};
    cl.add_to(app);
    app.add_option("--ks", ks, "top-k's k")->delimiter(',');
    app.add_option("--factors", factors, "multiples of EF21's theoretical step")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        auto p = split(data.load(), workers, lambda, cpx::regulariser::nonconvex,
                       /*heterogeneous=*/true);
        const std::size_t d = p.dim();
        o.x0 = gaussian_start(d, 1);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));
        nlohmann::json js = {{"experiment", "ef21_vs_ef"}, {"d", d},
                             {"workers", workers},         {"L", p.sm.L},
                             {"L_tilde", p.sm.L_tilde},    {"per_k", nlohmann::json::array()}};
        std::vector<curve> all;
        for (const std::size_t k : ks) {
            const auto make = [k](std::uint32_t i) {
                return cp::recipes::top_k{{.k = k}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
            };
            const double alpha = static_cast<double>(k) / static_cast<double>(d);
            const double base = fb::ef21_gamma(alpha, p.sm);
            std::vector<curve> curves;
            for (const double f : factors) {
                const std::string tag = "k=" + std::to_string(k) + " x" + std::to_string(int(f));
                curves.push_back(run<fb::ef21, cp::recipes::top_k>(
                    "EF21 " + tag, fb::ef21{}, f * base, make, std::span(p.parts), o, csv));
                curves.push_back(run<fb::ef14, cp::recipes::top_k>(
                    "EF " + tag, fb::ef14{}, f * base, make, std::span(p.parts), o, csv));
            }
            plot(cl.file("k" + std::to_string(k) + ".png"),
                 "EF21 vs EF, top-" + std::to_string(k) + ", Fashion-MNIST, " +
                     std::to_string(workers) + " workers",
                 curves);
            auto s = summary(curves, target);
            s["k"] = k;
            s["ef21_theory_gamma"] = base;
            js["per_k"].push_back(s);
            all.insert(all.end(), curves.begin(), curves.end());
        }
        csv.close();
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        print_table(all, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "ef21_vs_ef: %s\n", e.what());
        return 1;
    }
}

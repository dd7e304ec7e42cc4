// The `aha` command line: each subcommand registers itself on the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace aha::cli {
void add_init(CLI::App& app);
void add_train(CLI::App& app);
void add_score(CLI::App& app);
void add_bench(CLI::App& app);
void add_runs(CLI::App& app);
void add_data(CLI::App& app);    // aha data (cli_data.cpp)
void add_eval(CLI::App& app);    // aha eval
void add_reward(CLI::App& app);
void add_fp8(CLI::App& app);     // aha fp8 study (cli_fp8.cpp)  // aha reward   // aha runs list|show|export|compare|rm (cli_runs.cpp)
}  // namespace aha::cli

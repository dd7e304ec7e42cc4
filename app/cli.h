// The `aha` command line: each subcommand registers itself on the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace aha::cli {
void add_init(CLI::App& app);
void add_train(CLI::App& app);
void add_score(CLI::App& app);
void add_bench(CLI::App& app);
}  // namespace aha::cli

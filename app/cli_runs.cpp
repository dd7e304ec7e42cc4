// aha runs: list, show, export, compare and remove the runs of a workspace.
#include "app/cli.h"

namespace aha::cli {
void add_runs(CLI::App& app) {
  auto* runs = app.add_subcommand("runs", "Inspect the runs of a workspace");
  runs->require_subcommand(1);
}
}  // namespace aha::cli

// aha: train and inspect DeepSeek-V3-architecture models from the command line.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "app/cli.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  CLI::App app{"aha — DeepSeek-V3 architecture (MLA, DeepSeekMoE, MTP) trained from scratch on CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "aha 0.1.0");
  // logs go to stderr: stdout carries results (--json output, scores)
  spdlog::set_default_logger(spdlog::stderr_color_mt("aha"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  aha::cli::add_init(app);
  aha::cli::add_train(app);
  aha::cli::add_score(app);
  aha::cli::add_bench(app);
  aha::cli::add_runs(app);
  aha::cli::add_data(app);
  aha::cli::add_eval(app);
  aha::cli::add_reward(app);
  aha::cli::add_fp8(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const aha::Error& e) {
    std::cerr << "aha: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "aha: unexpected error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

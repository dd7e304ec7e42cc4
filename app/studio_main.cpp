// aha-studio: the desktop studio. Without a display it says so and runs the preset
// headless through the `aha` CLI (same engine, terminal progress bar) instead of failing.
//
//   aha-studio [--workspace DIR] [--preset NAME] [--start] [--theme light|dark]
//   aha-studio --screenshots DIR [--after SECONDS]   every view saved as PNG (tests/studio/screenshots.sh)
//   aha-studio --open RUN_DIR [--screenshots DIR]    open one run (and shoot its views without training)
//   aha-studio --bench-latency SECONDS [--bench-tab I] event-loop latency while a run trains (JSON)
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "app/studio_tools.h"
#include "views/launcher_view.h"
#include "views/main_window.h"
#include "views/theme.h"

namespace {

bool has_display(int argc, char** argv) {
  if (std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY") || std::getenv("QT_QPA_PLATFORM")) return true;
  for (int i = 1; i < argc; i++)
    if (std::string(argv[i]) == "-platform") return true;
  return false;
}

// No display: run the preset with the CLI next to this binary (or on PATH).
int run_headless(int argc, char** argv) {
  std::string preset = "quickstart", workspace = "runs";
  for (int i = 1; i + 1 < argc; i++) {
    if (std::string(argv[i]) == "--preset") preset = argv[i + 1];
    if (std::string(argv[i]) == "--workspace") workspace = argv[i + 1];
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") break;
  }
  std::string self = argv[0];
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) self.assign(buf, size_t(n));
  const std::string dir = self.substr(0, self.find_last_of('/') + 1);
  std::string aha = dir + "aha";
  if (access(aha.c_str(), X_OK) != 0) aha = dir + "../app/aha";  // build tree layout
  if (access(aha.c_str(), X_OK) != 0) aha = "aha";
  const std::string run_dir = workspace + "/" + preset + "-" + std::to_string(time(nullptr));
  std::fprintf(stderr,
               "aha-studio: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the studio cannot open a window.\n"
               "aha-studio: running the '%s' preset headless instead, with the terminal progress bar:\n"
               "  %s train %s --run-dir %s\n"
               "aha-studio: open the studio later on a machine with a display to watch and compare it "
               "(aha-studio --workspace %s).\n",
               preset.c_str(), aha.c_str(), preset.c_str(), run_dir.c_str(), workspace.c_str());
  std::fflush(stderr);
  execlp(aha.c_str(), aha.c_str(), "train", preset.c_str(), "--run-dir", run_dir.c_str(), (char*)nullptr);
  std::perror(("aha-studio: cannot start " + aha).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (!has_display(argc, argv)) return run_headless(argc, argv);
  QApplication app(argc, argv);
  QApplication::setOrganizationName("aha");
  QApplication::setApplicationName("aha-studio");
  QApplication::setApplicationVersion("0.1.0");
  QApplication::setWindowIcon(QIcon(":/aha/icon.svg"));

  QCommandLineParser cli;
  cli.setApplicationDescription("Aha Studio: launch DeepSeek-style training runs, watch them live, inspect reasoning");
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption workspace("workspace", "The folder of runs to open (default: the last one, else ./runs).", "DIR");
  QCommandLineOption preset("preset", "The preset the launcher shows (default quickstart).", "NAME", "quickstart");
  QCommandLineOption start("start", "Start the preset at once.");
  QCommandLineOption theme("theme", "light or dark (default: the last one used).", "THEME");
  QCommandLineOption shots("screenshots", "Start the preset, then save a PNG of every view into DIR and quit.", "DIR");
  QCommandLineOption after("after", "With --screenshots: seconds of training first (default 60).", "SECONDS", "60");
  QCommandLineOption latency("bench-latency", "Train the preset for SECONDS and print the event loop's latency as JSON.",
                             "SECONDS");
  QCommandLineOption open("open", "Open this run directory (its workspace becomes the workspace); with "
                                  "--screenshots, shoot its views without training.", "RUN_DIR");
  QCommandLineOption stay("bench-tab", "With --bench-latency: stay on this tab (0 = Runs … 6 = Compare).", "INDEX");
  cli.addOptions({workspace, preset, start, theme, shots, after, latency, stay, open});
  cli.process(app);

  QSettings settings;
  const QString run_dir = cli.isSet(open) ? QDir(cli.value(open)).absolutePath() : QString();
  if (!run_dir.isEmpty() && !QFileInfo::exists(QDir(run_dir).filePath("run.db"))) {
    std::fprintf(stderr, "aha-studio: --open: '%s' is not a run directory (no run.db)\n", qPrintable(run_dir));
    return 2;
  }
  const QString ws = cli.isSet(workspace)  ? cli.value(workspace)
                     : !run_dir.isEmpty()  ? QFileInfo(run_dir).dir().absolutePath()
                                           : settings.value("workspace", QDir::current().filePath("runs")).toString();
  aha::studio::apply_theme(app, aha::studio::theme_from_name(cli.isSet(theme) ? cli.value(theme)
                                                                              : settings.value("theme", "light").toString()));
  aha::studio::MainWindow w;
  w.openWorkspace(ws);
  w.launcher()->choosePreset(cli.value(preset));
  w.show();
  if (!run_dir.isEmpty()) w.openRun(run_dir);

  if (cli.isSet(latency)) return aha::studio::bench_latency(w, cli.value(latency).toDouble(), cli.isSet(stay) ? cli.value(stay).toInt() : -1);
  if (cli.isSet(shots))
    return aha::studio::take_screenshots(w, cli.value(shots), cli.value(after).toDouble(), /*train=*/run_dir.isEmpty());
  if (cli.isSet(start)) QTimer::singleShot(0, w.launcher(), &aha::studio::LauncherView::startRun);
  return app.exec();
}

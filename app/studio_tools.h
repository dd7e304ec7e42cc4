// Non-interactive modes of aha-studio: measurements and screenshots that drive the real
// window with a real run.
#pragma once
#include <QString>

namespace aha::studio {
class MainWindow;
// Starts the launcher's preset, samples the event loop's lateness every 10 ms for
// `seconds` while it trains (switching tabs every 3 s so every view paints, or staying on
// tab `stay_on` when >= 0), stops the run, prints one JSON object, returns the exit code.
int bench_latency(MainWindow& w, double seconds, int stay_on = -1);
// Starts the launcher's preset, waits `after_s`, saves a PNG of every tab into `dir`,
// stops the run and returns the exit code.
// With train = false: no run is started; the run already open is shot after `after_s`.
int take_screenshots(MainWindow& w, const QString& dir, double after_s, bool train = true);
}  // namespace aha::studio

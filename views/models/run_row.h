// One run of a workspace as the run browser shows it: read from the run's database
// (RunStoreReader::summary), never from engine internals.
#pragma once
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>
#include <map>
#include <string>

namespace aha::studio {

struct RunRow {
  QString dir;             // the run directory (the row's identity)
  QString name, status;    // status: running | finished | stopped | failed | interrupted
  QString stage;           // the stage now running (or the last one)
  qint64 step = 0;         // steps done in that stage
  qint64 steps_done = 0;   // over all stages
  qint64 steps_total = 0;  // over all stages of its configuration
  double created_at = 0;   // unix seconds
  double updated_at = 0;   // the newest wall time recorded (unix seconds)
  QStringList tags;
  QString notes;
  QString error;           // the last error event, if any
  std::map<std::string, double> latest;  // last value of every series

  double progress() const { return steps_total > 0 ? double(steps_done) / double(steps_total) : 0.0; }
  // A metric's last value, or NaN when the run has not recorded it.
  double metric(const char* name) const;
  bool operator==(const RunRow&) const = default;
};
using RunRows = QVector<RunRow>;

// Reads one run directory's summary. Throws aha::Error (FormatError, IoError) for a
// directory whose database cannot be read; never writes to it.
RunRow read_run_row(const QString& run_dir);

// Every run of a workspace, sorted by directory name. A run that cannot be read becomes a
// row with status "unreadable" and the reason in `error`, so one bad run hides nothing.
RunRows scan_workspace(const QString& workspace);

}  // namespace aha::studio

Q_DECLARE_METATYPE(aha::studio::RunRow)
Q_DECLARE_METATYPE(aha::studio::RunRows)

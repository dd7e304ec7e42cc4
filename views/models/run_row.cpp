#include "views/models/run_row.h"

#include <QDir>
#include <QFileInfo>
#include <cmath>
#include <limits>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/store.h"

namespace aha::studio {

double RunRow::metric(const char* name) const {
  auto it = latest.find(name);
  return it == latest.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

namespace {
QStringList to_qt(const std::vector<std::string>& v) {
  QStringList out;
  for (const auto& s : v) out << QString::fromStdString(s);
  return out;
}

// Steps per stage from the run's own configuration (the stages it will run).
std::map<std::string, int64_t> planned_steps(const std::string& config_toml) {
  std::map<std::string, int64_t> out;
  try {
    const RunConfig c = parse_config(config_toml, "run.db config");
    out["pretrain"] = c.train.steps;
    if (c.sft.steps > 0) out["sft"] = c.sft.steps;
    if (c.grpo.steps > 0) out["grpo"] = c.grpo.steps;
  } catch (const Error&) {
    // a configuration from another version: the progress column stays empty
  }
  return out;
}
}  // namespace

RunRow read_run_row(const QString& run_dir) {
  const RunStoreReader r = RunStoreReader::open_checked(run_dir.toStdString(), /*mark_interrupted=*/false,
                                                        /*quick_check=*/false);
  const RunSummary s = r.summary();
  RunRow row;
  row.dir = run_dir;
  row.name = QString::fromStdString(s.name);
  row.status = QString::fromStdString(s.status);
  row.created_at = s.created_at;
  row.tags = to_qt(s.tags);
  row.notes = QString::fromStdString(s.notes);
  row.latest = s.latest;
  row.step = s.last_step;
  row.updated_at = s.ended_at > 0 ? s.ended_at : s.created_at;
  const auto plan = planned_steps(s.config_toml);
  for (const auto& [name, n] : plan) row.steps_total += n;
  for (size_t i = 0; i < s.stages.size(); i++) {
    const StageRow& st = s.stages[i];
    const bool last = i + 1 == s.stages.size();
    auto it = plan.find(st.name);
    const int64_t planned = it == plan.end() ? 0 : it->second;
    if (last) {
      row.stage = QString::fromStdString(st.name);
      row.steps_done += st.status == "finished" ? planned : std::min<int64_t>(s.last_step, planned ? planned : s.last_step);
    } else if (st.status == "finished") {
      row.steps_done += planned;
    }
    row.updated_at = std::max({row.updated_at, st.started_at, st.ended_at});
  }
  for (const EventRow& e : r.events())
    if (e.kind == "error") row.error = QString::fromStdString(e.message);
  return row;
}

RunRows scan_workspace(const QString& workspace) {
  RunRows rows;
  for (const std::string& d : list_run_dirs(workspace.toStdString())) {
    const QString dir = QString::fromStdString(d);
    try {
      rows.push_back(read_run_row(dir));
    } catch (const std::exception& e) {
      RunRow bad;
      bad.dir = dir;
      bad.name = QFileInfo(dir).fileName();
      bad.status = "unreadable";
      bad.error = QString::fromUtf8(e.what());
      rows.push_back(bad);
    }
  }
  return rows;
}

}  // namespace aha::studio

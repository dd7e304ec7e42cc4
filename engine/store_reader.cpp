// Reading a run database: summaries, series, min/max decimation, traces (FTS5), events.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/sqlite_util.h"
#include "engine/store.h"

#include <cmath>
#include "engine/store_schema.h"

namespace aha {
namespace fs = std::filesystem;

struct RunStoreReader::Impl {
  sql::Db db;
  std::string dir;
  int version = 0;
  bool interrupted = false;  // status "running" but its process is gone
};

namespace {

std::string db_path_of(const std::string& path) {
  if (fs::is_directory(path)) return (fs::path(path) / store_file_name()).string();
  return path;
}

// A run is live when its writer process still exists on this host, or, for another
// host, when its heartbeat is recent.
bool writer_alive(const std::string& host, int64_t pid, double heartbeat) {
  char h[256] = {0};
  gethostname(h, sizeof h - 1);
  if (host == h) return pid > 0 && (::kill((pid_t)pid, 0) == 0 || errno == EPERM);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - heartbeat < 60.0;
}

TraceRow trace_row(const sql::Stmt& s) {
  TraceRow r;
  r.id = s.i64(0);
  r.stage = s.text(1);
  r.step = s.i64(2);
  r.split = s.text(3);
  r.prompt = s.text(4);
  r.completion = s.text(5);
  r.group_id = s.i64(6);
  try {
    const nlohmann::json j = nlohmann::json::parse(s.text(7));
    for (auto it = j.begin(); it != j.end(); ++it) r.rewards[it.key()] = it.value().get<double>();
  } catch (const nlohmann::json::exception&) {
    // a hand-edited rewards cell: show the trace without its rewards
  }
  r.advantage = s.f64(8);
  r.aha_spans_json = s.text(9);
  r.language_share = s.f64(10);
  r.truncated = s.i64(11) != 0;
  return r;
}

constexpr const char* kTraceColumns =
    "t.id, st.name, t.step, t.split, t.prompt, t.completion, t.group_id, t.rewards, t.advantage, "
    "t.aha_spans, t.language_share, t.truncated";

}  // namespace

RunStoreReader::RunStoreReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunStoreReader::RunStoreReader(RunStoreReader&&) noexcept = default;
RunStoreReader::~RunStoreReader() = default;

RunStoreReader RunStoreReader::open(const std::string& path_in, bool mark_interrupted) {
  return open_checked(path_in, mark_interrupted, true);
}

RunStoreReader RunStoreReader::open_checked(const std::string& path_in, bool mark_interrupted, bool quick_check) {
  const std::string path = db_path_of(path_in);
  if (!fs::exists(path)) throw IoError(path + ": no such run database");
  auto impl = std::make_unique<Impl>();
  impl->db = sql::Db(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  impl->dir = fs::path(path).parent_path().string();
  impl->version = store::checked_version(impl->db, quick_check);
  if (impl->version < kStoreSchemaVersion) {
    // An older database is migrated in place by a read-write connection first.
    { sql::Db rw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX); store::migrate(rw, impl->version); }
    impl->db = sql::Db(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    impl->version = store::checked_version(impl->db);
  }
  sql::Stmt r(impl->db, "SELECT status, host, pid, heartbeat FROM run WHERE id = 1");
  if (!r.step()) throw FormatError(path + ": not a run database (no run row)");
  if (r.text(0) == "running" && !writer_alive(r.text(1), r.i64(2), r.f64(3))) {
    impl->interrupted = true;
    if (mark_interrupted) {
      try {
        sql::Db rw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
        sql::Stmt up(rw, "UPDATE run SET status = 'interrupted', ended_at = heartbeat WHERE id = 1 AND status = 'running' AND pid = ?");
        up.bind(1, r.i64(2)).run();
        sql::Stmt us(rw, "UPDATE stage SET status = 'interrupted', ended_at = (SELECT heartbeat FROM run) WHERE status = 'running'");
        us.run();
      } catch (const Error&) {
        // read-only directory: report it interrupted without recording it
      }
    }
  }
  return RunStoreReader(std::move(impl));
}

int RunStoreReader::schema_version() const { return impl_->version; }

RunSummary RunStoreReader::summary() const {
  const sql::Db& db = impl_->db;
  RunSummary s;
  s.dir = impl_->dir;
  sql::Stmt r(db, "SELECT name, status, config, version, host, notes, tags, created_at, ended_at, uuid FROM run WHERE id = 1");
  if (!r.step()) throw FormatError(db.path() + ": not a run database (no run row)");
  s.name = r.text(0);
  s.status = impl_->interrupted ? "interrupted" : r.text(1);
  s.config_toml = r.text(2);
  s.version = r.text(3);
  s.host = r.text(4);
  s.notes = r.text(5);
  try { s.tags = nlohmann::json::parse(r.text(6)).get<std::vector<std::string>>(); } catch (const nlohmann::json::exception&) {}
  s.created_at = r.f64(7);
  s.ended_at = r.is_null(8) ? 0 : r.f64(8);
  s.uuid = r.text(9);
  sql::Stmt st(db, "SELECT name, status, started_at, ended_at FROM stage ORDER BY id");
  while (st.step()) {
    StageRow row{st.text(0), st.text(1), st.f64(2), st.is_null(3) ? 0 : st.f64(3)};
    if (impl_->interrupted && row.status == "running") row.status = "interrupted";
    s.stages.push_back(row);
  }
  sql::Stmt ck(db, "SELECT stage, step, path, wall, metrics FROM checkpoint ORDER BY id");
  while (ck.step()) s.checkpoints.push_back({ck.text(0), ck.text(2), ck.i64(1), ck.f64(3), ck.text(4)});
  // latest value of every series: its row in the latest stage with the largest step
  // (stages restart their step count; SQLite returns the bare columns of the max() row)
  sql::Stmt lt(db,
               "SELECT s.name, m.value, max(m.stage * 4294967296 + m.step) FROM metric m JOIN series s ON s.id = m.series "
               "WHERE m.value IS NOT NULL GROUP BY m.series");
  while (lt.step()) s.latest[lt.text(0)] = lt.f64(1);
  sql::Stmt ls(db, "SELECT step FROM metric WHERE stage = (SELECT max(stage) FROM metric) ORDER BY step DESC LIMIT 1");
  if (ls.step()) s.last_step = ls.i64(0);
  return s;
}

std::vector<std::string> RunStoreReader::series() const {
  std::vector<std::string> out;
  sql::Stmt s(impl_->db, "SELECT name FROM series ORDER BY name");
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<RunStoreReader::Point> RunStoreReader::points(const std::string& name) const {
  std::vector<Point> out;
  sql::Stmt s(impl_->db,
              "SELECT m.step, m.wall, m.tokens, m.value FROM metric m JOIN series s ON s.id = m.series "
              "WHERE s.name = ? AND m.value IS NOT NULL ORDER BY m.stage, m.step");
  s.bind(1, name);
  while (s.step()) out.push_back({s.i64(0), s.f64(1), s.i64(2), s.f64(3)});
  return out;
}

std::vector<Bucket> RunStoreReader::decimate(const std::string& name, const std::string& x, double x0,
                                             double x1, int buckets) const {
  if (x != "step" && x != "wall" && x != "tokens" && x != "run_step" && x != "run_tokens")
    throw InvalidArgument("decimate: x must be step, wall, tokens, run_step or run_tokens, not '" + x + "'");
  if (buckets < 1 || !(x1 >= x0)) throw InvalidArgument("decimate: need buckets >= 1 and x1 >= x0");
  // The x expression; run_step adds each stage row's offset (integers from the database,
  // so building them into the SQL text is safe).
  std::string xe = "m." + x;
  if (x == "run_step" || x == "run_tokens") {
    const bool steps = x == "run_step";
    xe = steps ? "(m.step + CASE m.stage" : "(m.tokens + CASE m.stage";
    std::map<std::string, int64_t> offset;
    for (const StageSteps& s : stage_steps()) offset[s.stage] = steps ? s.offset : s.token_offset;
    sql::Stmt st(impl_->db, "SELECT id, name FROM stage");
    while (st.step())
      if (auto it = offset.find(st.text(1)); it != offset.end())
        xe += " WHEN " + std::to_string(st.i64(0)) + " THEN " + std::to_string(it->second);
    xe += " ELSE 0 END)";
  }
  // On a step axis the x range is a step range per stage: one SELECT per stage, each a
  // seek on the (series, stage, step) key, so a zoom reads only its rows (an OR of the
  // per-stage ranges would make SQLite scan the whole series). Wall time and tokens are
  // not in the key: those read the series' rows (contiguous: the table is clustered by
  // series). GROUP BY bucket returns one row per non-empty bucket with its true min/max.
  int64_t series_id = -1;
  {
    sql::Stmt q(impl_->db, "SELECT id FROM series WHERE name = ?");
    q.bind(1, name);
    if (!q.step()) return {};
    series_id = q.i64(0);
  }
  std::string src = "(SELECT * FROM metric WHERE series = " + std::to_string(series_id) + ")";
  if (x == "step" || x == "run_step") {
    std::map<std::string, int64_t> offset;
    if (x == "run_step")
      for (const StageSteps& st : stage_steps()) offset[st.stage] = st.offset;
    std::string parts;
    sql::Stmt st(impl_->db, "SELECT id, name FROM stage");
    while (st.step()) {
      const int64_t off = x == "run_step" ? (offset.count(st.text(1)) ? offset[st.text(1)] : 0) : 0;
      const double lo = std::floor(x0) - (double)off, hi = std::ceil(x1) - (double)off;
      if (hi < 0) continue;
      parts += std::string(parts.empty() ? "" : " UNION ALL ") + "SELECT * FROM metric WHERE series = " +
               std::to_string(series_id) + " AND stage = " + std::to_string(st.i64(0)) + " AND step BETWEEN " +
               std::to_string((int64_t)std::max(0.0, lo)) + " AND " + std::to_string((int64_t)std::min(hi, 9.0e18));
    }
    if (parts.empty()) return {};
    src = "(" + parts + ")";
  }
  const std::string q =
      "SELECT min(MAX(0, MIN(?4 - 1, CAST((" + xe + " - ?2) * ?4 / (?3 - ?2 + 1e-300) AS INTEGER)))) AS b, "
      "min(" + xe + "), max(" + xe + "), min(m.value), max(m.value), avg(m.value), count(*) "
      "FROM " + src + " m WHERE " + xe + " BETWEEN ?2 AND ?3 AND m.value IS NOT NULL "
      "GROUP BY MAX(0, MIN(?4 - 1, CAST((" + xe + " - ?2) * ?4 / (?3 - ?2 + 1e-300) AS INTEGER))) ORDER BY b";
  sql::Stmt s(impl_->db, q.c_str());
  s.bind(2, x0).bind(3, x1).bind(4, (int64_t)buckets);
  std::vector<Bucket> out;
  while (s.step()) out.push_back({s.f64(1), s.f64(2), s.f64(3), s.f64(4), s.f64(5), s.i64(6)});
  return out;
}

std::vector<RunStoreReader::StageSteps> RunStoreReader::stage_steps() const {
  // Per stage row, its largest step: a min/max-optimised seek per series on the
  // (series, stage, step) primary key, never a scan of the metric table.
  // A stage's token count grows with its steps, so its last count is the one at its
  // last step (a seek too; tokens are not in the key).
  sql::Stmt s(impl_->db,
              "SELECT st.name, "
              "(SELECT max((SELECT max(m.step) FROM metric m WHERE m.series = se.id AND m.stage = st.id)) FROM series se), "
              "(SELECT max((SELECT m.tokens FROM metric m WHERE m.series = se.id AND m.stage = st.id "
              "ORDER BY m.step DESC LIMIT 1)) FROM series se) "
              "FROM stage st ORDER BY st.id");
  std::vector<StageSteps> out;
  while (s.step()) {
    if (s.is_null(1)) continue;  // a stage without metrics takes no room on the axis
    const std::string name = s.text(0);
    auto it = std::find_if(out.begin(), out.end(), [&](const StageSteps& r) { return r.stage == name; });
    if (it == out.end()) {
      out.push_back({name, 0, s.i64(1), 0, s.i64(2)});
    } else {
      it->last_step = std::max(it->last_step, s.i64(1));
      it->last_tokens = std::max(it->last_tokens, s.i64(2));
    }
  }
  for (size_t i = 1; i < out.size(); i++) {
    out[i].offset = out[i - 1].offset + out[i - 1].last_step;
    out[i].token_offset = out[i - 1].token_offset + out[i - 1].last_tokens;
  }
  return out;
}

std::vector<TraceRow> RunStoreReader::search_traces(const std::string& query, int limit) const {
  const std::string q = std::string("SELECT ") + kTraceColumns +
                        " FROM trace_fts f JOIN trace t ON t.id = f.rowid JOIN stage st ON st.id = t.stage "
                        "WHERE trace_fts MATCH ? ORDER BY rank LIMIT ?";
  sql::Stmt s(impl_->db, q.c_str());
  s.bind(1, query).bind(2, (int64_t)limit);
  std::vector<TraceRow> out;
  try {
    while (s.step()) out.push_back(trace_row(s));
  } catch (const IoError& e) {
    throw InvalidArgument(std::string("trace search '") + query + "': " + e.what());
  }
  return out;
}

std::vector<TraceRow> RunStoreReader::traces(int64_t step, const std::string& stage, int limit) const {
  const std::string q = std::string("SELECT ") + kTraceColumns +
                        " FROM trace t JOIN stage st ON st.id = t.stage WHERE t.step = ? AND st.name = ? "
                        "ORDER BY t.group_id, t.id LIMIT ?";
  sql::Stmt s(impl_->db, q.c_str());
  s.bind(1, step).bind(2, stage).bind(3, (int64_t)limit);
  std::vector<TraceRow> out;
  while (s.step()) out.push_back(trace_row(s));
  return out;
}

std::vector<EventRow> RunStoreReader::events() const {
  std::vector<EventRow> out;
  sql::Stmt s(impl_->db, "SELECT wall, kind, stage, message, step FROM event ORDER BY id");
  while (s.step()) out.push_back({s.f64(0), s.text(1), s.text(2), s.text(3), s.i64(4)});
  return out;
}

std::vector<MoeLayerRecord> RunStoreReader::moe(const std::string& stage, int64_t step) const {
  sql::Stmt s(impl_->db,
              "SELECT m.layer, m.expert, m.tokens, m.bias FROM moe m JOIN stage st ON st.id = m.stage "
              "WHERE st.name = ? AND m.step = ? ORDER BY m.layer, m.expert");
  s.bind(1, stage).bind(2, step);
  std::vector<MoeLayerRecord> out;
  while (s.step()) {
    if (out.empty() || out.back().layer != (int)s.i64(0)) out.push_back({(int)s.i64(0), {}, {}});
    out.back().tokens.push_back(s.i64(2));
    out.back().bias.push_back((float)s.f64(3));
  }
  return out;
}

std::vector<Fp8Record> RunStoreReader::fp8_latest(std::string* stage, int64_t* step) const {
  sql::Stmt last(impl_->db, "SELECT f.stage, f.step, st.name FROM fp8 f JOIN stage st ON st.id = f.stage "
                            "ORDER BY f.stage DESC, f.step DESC LIMIT 1");
  std::vector<Fp8Record> out;
  if (!last.step()) return out;
  const int64_t sid = last.i64(0), at = last.i64(1);
  if (stage) *stage = last.text(2);
  if (step) *step = at;
  sql::Stmt rows(impl_->db, "SELECT layer, tensor, amax, underflow, overflow FROM fp8 WHERE stage = ? AND step = ? "
                            "ORDER BY layer, tensor");
  rows.bind(1, sid).bind(2, at);
  while (rows.step()) out.push_back({(int)rows.i64(0), rows.text(1), rows.f64(2), rows.f64(3), rows.f64(4)});
  return out;
}

namespace {
// The (stage name, step) pairs that have rows in `table` (moe, trace), in recording order.
std::vector<std::pair<std::string, int64_t>> stage_steps_of(sql::Db& db, const char* table) {
  sql::Stmt s(db, (std::string("SELECT st.name, t.step FROM (SELECT DISTINCT stage, step FROM ") + table +
                   ") t JOIN stage st ON st.id = t.stage ORDER BY t.stage, t.step").c_str());
  std::vector<std::pair<std::string, int64_t>> out;
  while (s.step()) out.emplace_back(s.text(0), s.i64(1));
  return out;
}
}  // namespace

std::vector<std::pair<std::string, int64_t>> RunStoreReader::moe_steps() const { return stage_steps_of(impl_->db, "moe"); }

std::vector<RunStoreReader::MoeHistoryRow> RunStoreReader::moe_history(int layer) const {
  sql::Stmt s(impl_->db,
              "SELECT st.name, m.step, m.expert, m.tokens, m.bias FROM moe m JOIN stage st ON st.id = m.stage "
              "WHERE m.layer = ? ORDER BY m.stage, m.step, m.expert");
  s.bind(1, (int64_t)layer);
  std::vector<MoeHistoryRow> out;
  while (s.step()) {
    const std::string stage = s.text(0);
    const int64_t step = s.i64(1);
    if (out.empty() || out.back().stage != stage || out.back().step != step) out.push_back({stage, step, {}, {}});
    out.back().tokens.push_back(s.i64(3));
    out.back().bias.push_back((float)s.f64(4));
  }
  return out;
}

std::vector<RunStoreReader::ImbalanceRow> RunStoreReader::moe_imbalance() const {
  sql::Stmt s(impl_->db,
              "SELECT st.name, m.step, m.layer, m.imbalance, m.cv FROM moe_layer m JOIN stage st ON st.id = m.stage "
              "ORDER BY m.layer, m.stage, m.step");
  std::vector<ImbalanceRow> out;
  while (s.step()) out.push_back({s.text(0), s.i64(1), (int)s.i64(2), s.f64(3), s.f64(4)});
  return out;
}

std::vector<std::pair<std::string, int64_t>> RunStoreReader::trace_steps() const {
  return stage_steps_of(impl_->db, "trace");
}

std::vector<RunStoreReader::AhaMoment> RunStoreReader::aha_moments() const {
  // the writer stores "[]" for a trace without spans (aha_spans_json of an empty list)
  sql::Stmt s(impl_->db,
              "SELECT st.name, t.split, t.step, t.id FROM trace t JOIN stage st ON st.id = t.stage "
              "WHERE t.aha_spans NOT IN ('[]', '') ORDER BY t.stage, t.step, t.id");
  std::vector<AhaMoment> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.i64(2), s.i64(3)});
  return out;
}

struct RunFollower::Impl {
  std::string dir;
  std::map<std::pair<int64_t, int64_t>, int64_t> last_step;  // (series, stage) → last step seen
  std::map<int64_t, std::string> stage_names;                // stage id → name
  int64_t last_event = 0;
};

RunFollower::RunFollower(const std::string& run_dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = run_dir;
}
RunFollower::~RunFollower() = default;

RunFollower::Update RunFollower::poll() {
  Update u;
  // A fresh connection per poll: a long-lived read transaction would pin the WAL.
  // no quick_check on every poll: following a long run must stay cheap
  RunStoreReader r = RunStoreReader::open_checked(impl_->dir, false, false);
  const sql::Db& db = r.impl_->db;
  u.status = r.summary_status();
  // Events first: a "resumed" event means the stage's rows after its step were replaced,
  // so that stage is read again from there.
  sql::Stmt ev(db, "SELECT id, wall, kind, stage, message, step FROM event WHERE id > ? ORDER BY id");
  ev.bind(1, impl_->last_event);
  while (ev.step()) {
    u.events.push_back({ev.f64(1), ev.text(2), ev.text(3), ev.text(4), ev.i64(5)});
    impl_->last_event = ev.i64(0);
    if (u.events.back().kind == "resumed")
      for (auto& [key, last] : impl_->last_step)
        if (impl_->stage_names[key.second] == u.events.back().stage) last = std::min(last, u.events.back().step);
  }
  sql::Stmt pairs(db, "SELECT s.id, s.name, st.id, st.name FROM series s, stage st");
  sql::Stmt q(db,
              "SELECT step, wall, tokens, value FROM metric WHERE series = ? AND stage = ? AND step > ? "
              "AND value IS NOT NULL ORDER BY step");
  while (pairs.step()) {
    const auto key = std::make_pair(pairs.i64(0), pairs.i64(2));
    impl_->stage_names[pairs.i64(2)] = pairs.text(3);
    int64_t& last = impl_->last_step.try_emplace(key, INT64_MIN).first->second;
    q.bind(1, key.first).bind(2, key.second).bind(3, last);
    while (q.step()) {
      u.points.push_back({pairs.text(1), pairs.text(3), q.i64(0), q.f64(1), q.i64(2), q.f64(3)});
      last = q.i64(0);
    }
    q.reset();
  }
  return u;
}

std::string RunStoreReader::summary_status() const {
  if (impl_->interrupted) return "interrupted";
  sql::Stmt r(impl_->db, "SELECT status FROM run WHERE id = 1");
  return r.step() ? r.text(0) : "";
}

std::vector<std::string> list_run_dirs(const std::string& workspace) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(workspace, ec)) return out;
  for (const auto& e : fs::directory_iterator(workspace, ec))
    if (e.is_directory() && fs::exists(e.path() / store_file_name())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace aha

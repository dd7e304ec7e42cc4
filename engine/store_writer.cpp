// The run store's writer: callers enqueue closures; one thread applies them to SQLite in
// a transaction every kFlushIntervalS (or sooner when the queue is long).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "engine/sqlite_util.h"
#include "engine/store.h"
#include "engine/store_schema.h"

namespace aha {
namespace fs = std::filesystem;

const char* store_file_name() { return "run.db"; }

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
// A random (version 4) UUID identifying the run wherever its directory moves.
std::string new_uuid() {
  std::random_device rd;
  uint8_t b[16];
  for (auto& x : b) x = (uint8_t)rd();
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return s;
}

std::string host_name() {
  char h[256] = {0};
  gethostname(h, sizeof h - 1);
  return h;
}
}  // namespace

namespace {
// One trace row: the writer thread and append_to_run share the statement and its binding.
constexpr const char* kInsertTrace =
    "INSERT INTO trace(stage, step, split, prompt, completion, group_id, rewards, advantage, aha_spans, "
    "language_share, truncated) VALUES (?,?,?,?,?,?,?,?,?,?,?)";
void insert_trace(sql::Stmt& st, int64_t stage_id, int64_t step, const TraceRecord& t) {
  st.bind(1, stage_id).bind(2, step).bind(3, t.split).bind(4, t.prompt).bind(5, t.completion).bind(6, t.group_id)
      .bind(7, nlohmann::json(t.rewards).dump()).bind(8, t.advantage).bind(9, t.aha_spans_json)
      .bind(10, t.language_share).bind(11, (int64_t)t.truncated).run();
}
}  // namespace

struct RunStoreWriter::Impl {
  sql::Db db;
  sql::Stmt ins_metric, ins_series, sel_series, ins_stage, end_stage, ins_moe, ins_moe_layer, ins_fp8,
      ins_trace, ins_event, ins_ckpt, heartbeat;
  std::map<std::string, int64_t> series_ids, stage_ids;

  mutable std::mutex mu;
  std::condition_variable cv, flushed_cv;
  std::vector<std::function<void(Impl&)>> queue;
  uint64_t enqueued = 0, committed_seq = 0;
  bool stop = false, flush_now = false;
  std::string error;
  std::atomic<uint64_t> rows{0};
  double last_wall_at_open = 0;  // read once, before the writer thread starts
  std::thread thread;

  explicit Impl(sql::Db d) : db(std::move(d)) {
    // a step recorded twice (a re-evaluation) keeps its last value
    ins_metric = sql::Stmt(db, "INSERT OR REPLACE INTO metric(series, stage, step, wall, tokens, value) VALUES (?,?,?,?,?,?)");
    // a series another process added (aha eval) is found, not inserted twice
    ins_series = sql::Stmt(db, "INSERT OR IGNORE INTO series(name) VALUES (?)");
    sel_series = sql::Stmt(db, "SELECT id FROM series WHERE name = ?");
    ins_stage = sql::Stmt(db, "INSERT INTO stage(name, status, started_at) VALUES (?, 'running', ?)");
    end_stage = sql::Stmt(db, "UPDATE stage SET status = ?, ended_at = ? WHERE id = ?");
    ins_moe = sql::Stmt(db, "INSERT INTO moe(stage, step, layer, expert, tokens, bias) VALUES (?,?,?,?,?,?)");
    ins_moe_layer = sql::Stmt(db, "INSERT INTO moe_layer(stage, step, layer, imbalance, cv) VALUES (?,?,?,?,?)");
    ins_fp8 = sql::Stmt(db, "INSERT INTO fp8(stage, step, layer, tensor, amax, underflow, overflow) VALUES (?,?,?,?,?,?,?)");
    ins_trace = sql::Stmt(db, kInsertTrace);
    ins_event = sql::Stmt(db, "INSERT INTO event(wall, stage, step, kind, message) VALUES (?,?,?,?,?)");
    ins_ckpt = sql::Stmt(db, "INSERT INTO checkpoint(stage, step, path, wall, metrics) VALUES (?,?,?,?,?)");
    heartbeat = sql::Stmt(db, "UPDATE run SET heartbeat = ? WHERE id = 1");
    sql::Stmt st(db, "SELECT id, name FROM stage ORDER BY id");
    while (st.step()) stage_ids[st.text(1)] = st.i64(0);  // the latest row of a name wins
    sql::Stmt se(db, "SELECT id, name FROM series");
    while (se.step()) series_ids[se.text(1)] = se.i64(0);
    sql::Stmt lw(db, "SELECT coalesce(max(wall), 0) FROM metric");
    if (lw.step()) last_wall_at_open = lw.f64(0);
  }

  int64_t stage_id(const std::string& name) {
    auto it = stage_ids.find(name);
    if (it != stage_ids.end()) return it->second;
    ins_stage.bind(1, name).bind(2, now_s()).run();
    return stage_ids[name] = sqlite3_last_insert_rowid(db.get());
  }
  int64_t series_id(const std::string& name) {
    auto it = series_ids.find(name);
    if (it != series_ids.end()) return it->second;
    ins_series.bind(1, name).run();
    sel_series.bind(1, name);
    sel_series.step();
    const int64_t id = sel_series.i64(0);
    sel_series.reset();
    return series_ids[name] = id;
  }

  void push(std::function<void(Impl&)> op) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop) return;
      queue.push_back(std::move(op));
      enqueued++;
      if (queue.size() < 16384) return;
      flush_now = true;  // a long queue is committed now rather than at the next tick
    }
    cv.notify_one();
  }

  void loop() {
    double last_beat = 0;
    for (;;) {
      std::vector<std::function<void(Impl&)>> batch;
      uint64_t seq;
      bool stopping;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::duration<double>(kFlushIntervalS), [&] { return stop || flush_now; });
        batch.swap(queue);
        seq = enqueued;
        stopping = stop;
        flush_now = false;
      }
      const double t = now_s();
      if ((!batch.empty() || t - last_beat > 1.0) && error_empty()) {
        try {
          db.exec("BEGIN");
          for (auto& op : batch) op(*this);
          heartbeat.bind(1, t).run();
          db.exec("COMMIT");
          last_beat = t;
        } catch (const std::exception& e) {
          sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
          std::lock_guard<std::mutex> lock(mu);
          if (error.empty()) error = e.what();
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        committed_seq = seq;
      }
      flushed_cv.notify_all();
      if (stopping) return;
    }
  }
  bool error_empty() {
    std::lock_guard<std::mutex> lock(mu);
    return error.empty();
  }
};

RunStoreWriter::RunStoreWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->thread = std::thread([this] { impl_->loop(); });
}

RunStoreWriter::~RunStoreWriter() {
  if (impl_ && impl_->thread.joinable()) finish("interrupted");
}

std::unique_ptr<RunStoreWriter> RunStoreWriter::create(const std::string& run_dir, const RunInfo& info) {
  const fs::path path = fs::path(run_dir) / store_file_name();
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (fs::exists(path))
    throw IoError(path.string() + ": a run database already exists here (continue it with --resume)");
  sql::Db db(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  try {
    store::configure_writer(db);
    store::create_schema(db);
  } catch (...) {
    db = sql::Db();  // close, then remove the half-made file so that a retry can create it
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix, ec);
    throw;
  }
  sql::Stmt ins(db,
      "INSERT INTO run(id, name, status, created_at, config, version, host, pid, heartbeat, notes, tags, uuid) "
      "VALUES (1, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const double t = now_s();
  ins.bind(1, info.name).bind(2, t).bind(3, info.config_toml).bind(4, info.version).bind(5, info.host.empty() ? host_name() : info.host)
      .bind(6, (int64_t)getpid()).bind(7, t).bind(8, info.notes).bind(9, nlohmann::json(info.tags).dump())
      .bind(10, new_uuid()).run();
  return std::unique_ptr<RunStoreWriter>(new RunStoreWriter(std::make_unique<Impl>(std::move(db))));
}

std::unique_ptr<RunStoreWriter> RunStoreWriter::reopen(const std::string& run_dir) {
  const fs::path path = fs::path(run_dir) / store_file_name();
  if (!fs::exists(path)) throw IoError(path.string() + ": no run database to continue");
  sql::Db db(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  const int version = store::checked_version(db);  // refuses newer / corrupt files untouched
  store::configure_writer(db);
  store::migrate(db, version);
  sql::Stmt up(db, "UPDATE run SET status = 'running', ended_at = NULL, pid = ?, host = ?, heartbeat = ? WHERE id = 1");
  up.bind(1, (int64_t)getpid()).bind(2, host_name()).bind(3, now_s()).run();
  return std::unique_ptr<RunStoreWriter>(new RunStoreWriter(std::make_unique<Impl>(std::move(db))));
}

void append_to_run(const std::string& run_dir, const std::string& stage, int64_t step,
                   const std::map<std::string, double>& metrics, const std::vector<TraceRecord>& traces) {
  const fs::path path = fs::path(run_dir) / store_file_name();
  if (!fs::exists(path)) throw IoError(path.string() + ": no run database");
  sql::Db db(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  const int version = store::checked_version(db);
  store::migrate(db, version);
  db.exec("BEGIN IMMEDIATE");
  try {
    auto id_of = [&](const char* select, const char* insert, const std::string& name) -> int64_t {
      sql::Stmt q(db, select);
      q.bind(1, name);
      if (q.step()) return q.i64(0);
      sql::Stmt ins(db, insert);
      ins.bind(1, name);
      if (std::string(insert).find("stage") != std::string::npos) ins.bind(2, now_s());
      ins.run();
      return sqlite3_last_insert_rowid(db.get());
    };
    const int64_t sid = id_of("SELECT max(id) FROM stage WHERE name = ? HAVING count(*) > 0",
                              "INSERT INTO stage(name, status, started_at) VALUES (?, 'finished', ?)", stage);
    sql::Stmt m(db, "INSERT OR REPLACE INTO metric(series, stage, step, wall, tokens, value) VALUES (?,?,?,?,0,?)");
    const double t = now_s();
    for (const auto& [name, v] : metrics) {
      const int64_t ser = id_of("SELECT id FROM series WHERE name = ?", "INSERT INTO series(name) VALUES (?)", name);
      m.bind(1, ser).bind(2, sid).bind(3, step).bind(4, t);
      if (std::isfinite(v)) m.bind(5, v); else m.bind_null(5);
      m.run();
    }
    sql::Stmt tr(db, kInsertTrace);
    for (const TraceRecord& x : traces) insert_trace(tr, sid, step, x);
    db.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void annotate_run(const std::string& run_dir, const std::vector<std::string>& tags, const std::string& notes) {
  const fs::path path = fs::path(run_dir) / store_file_name();
  if (!fs::exists(path)) throw IoError(path.string() + ": no run database");
  sql::Db db(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  const int version = store::checked_version(db);
  store::migrate(db, version);
  sql::Stmt u(db, "UPDATE run SET tags = ?, notes = ? WHERE id = 1");
  u.bind(1, nlohmann::json(tags).dump()).bind(2, notes).run();
}

void RunStoreWriter::stage_started(const std::string& stage) {
  impl_->push([stage](Impl& w) {
    w.ins_stage.bind(1, stage).bind(2, now_s()).run();
    w.stage_ids[stage] = sqlite3_last_insert_rowid(w.db.get());
  });
}

void RunStoreWriter::stage_ended(const std::string& stage, const std::string& status) {
  impl_->push([stage, status](Impl& w) { w.end_stage.bind(1, status).bind(2, now_s()).bind(3, w.stage_id(stage)).run(); });
}

void RunStoreWriter::metrics(const std::string& stage, int64_t step, double wall_s, int64_t tokens,
                             const std::map<std::string, double>& values) {
  impl_->push([=](Impl& w) {
    const int64_t sid = w.stage_id(stage);
    for (const auto& [name, v] : values) {
      w.ins_metric.bind(1, w.series_id(name)).bind(2, sid).bind(3, step).bind(4, wall_s).bind(5, tokens);
      if (std::isfinite(v)) w.ins_metric.bind(6, v); else w.ins_metric.bind_null(6);  // NaN/Inf kept as NULL
      w.ins_metric.run();
    }
    w.rows += values.size();
  });
}

void RunStoreWriter::moe(const std::string& stage, int64_t step, const std::vector<MoeLayerRecord>& layers) {
  impl_->push([=](Impl& w) {
    const int64_t sid = w.stage_id(stage);
    for (const MoeLayerRecord& l : layers) {
      double mean = 0, sq = 0, mx = 0;
      for (size_t e = 0; e < l.tokens.size(); e++) {
        w.ins_moe.bind(1, sid).bind(2, step).bind(3, l.layer).bind(4, (int64_t)e).bind(5, l.tokens[e])
            .bind(6, e < l.bias.size() ? (double)l.bias[e] : 0.0).run();
        mean += (double)l.tokens[e] / l.tokens.size();
        sq += (double)l.tokens[e] * l.tokens[e] / l.tokens.size();
        mx = std::max(mx, (double)l.tokens[e]);
      }
      const double cv = mean > 0 ? std::sqrt(std::max(0.0, sq - mean * mean)) / mean : 0.0;
      w.ins_moe_layer.bind(1, sid).bind(2, step).bind(3, l.layer).bind(4, mean > 0 ? mx / mean : 0.0).bind(5, cv).run();
      w.rows += l.tokens.size() + 1;
    }
  });
}

void RunStoreWriter::fp8(const std::string& stage, int64_t step, const std::vector<Fp8Record>& rows) {
  impl_->push([=](Impl& w) {
    const int64_t sid = w.stage_id(stage);
    for (const Fp8Record& r : rows)
      w.ins_fp8.bind(1, sid).bind(2, step).bind(3, r.layer).bind(4, r.tensor).bind(5, r.amax)
          .bind(6, r.underflow).bind(7, r.overflow).run();
    w.rows += rows.size();
  });
}

void RunStoreWriter::trace(const TraceRecord& t) {
  impl_->push([t](Impl& w) {
    insert_trace(w.ins_trace, w.stage_id(t.stage), t.step, t);
    w.rows++;
  });
}

void RunStoreWriter::event(const std::string& kind, const std::string& stage, int64_t step,
                           const std::string& message) {
  const double t = now_s();
  impl_->push([=](Impl& w) {
    w.ins_event.bind(1, t).bind(2, stage).bind(3, step).bind(4, kind).bind(5, message).run();
    w.rows++;
  });
}

void RunStoreWriter::checkpoint(const std::string& stage, int64_t step, const std::string& path,
                                const std::map<std::string, double>& metrics) {
  const double t = now_s();
  impl_->push([=](Impl& w) {
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : metrics) if (std::isfinite(v)) m[k] = v;
    w.ins_ckpt.bind(1, stage).bind(2, step).bind(3, path).bind(4, t).bind(5, m.dump()).run();
    w.rows++;
  });
}

void RunStoreWriter::rewind(const std::string& stage, int64_t step) {
  const double t = now_s();
  impl_->push([=](Impl& w) {
    // the stage being resumed runs again (a later stage's rows are dropped below)
    if (auto s = w.stage_ids.find(stage); s != w.stage_ids.end() && step > 0) {
      sql::Stmt up(w.db, "UPDATE stage SET status = 'running', ended_at = NULL WHERE id = ?");
      up.bind(1, s->second).run();
    }
    auto it = w.stage_ids.find(stage);
    if (it == w.stage_ids.end()) return;  // never started: nothing to drop, no row to create
    const int64_t sid = it->second;
    int64_t dropped = 0;
    for (const char* table : {"metric", "moe", "moe_layer", "fp8", "trace"}) {
      sql::Stmt del(w.db, (std::string("DELETE FROM ") + table + " WHERE stage = ? AND step > ?").c_str());
      del.bind(1, sid).bind(2, step).run();
      dropped += sqlite3_changes(w.db.get());
    }
    w.ins_event.bind(1, t).bind(2, stage).bind(3, step).bind(4, std::string("resumed"))
        .bind(5, "resumed from the checkpoint at step " + std::to_string(step) + "; dropped " +
                     std::to_string(dropped) + " rows recorded after it").run();
  });
}

void RunStoreWriter::flush() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  const uint64_t target = impl_->enqueued;
  impl_->flush_now = true;
  impl_->cv.notify_one();
  impl_->flushed_cv.wait(lock, [&] { return impl_->committed_seq >= target || !impl_->thread.joinable(); });
}

void RunStoreWriter::finish(const std::string& status) {
  if (!impl_->thread.joinable()) return;
  impl_->push([status](Impl& w) {
    sql::Stmt st(w.db, "UPDATE run SET status = ?, ended_at = ? WHERE id = 1");
    st.bind(1, status).bind(2, now_s()).run();
  });
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

std::string RunStoreWriter::error() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->error;
}

uint64_t RunStoreWriter::committed_rows() const { return impl_->rows.load(); }

double RunStoreWriter::last_wall() const { return impl_->last_wall_at_open; }

}  // namespace aha

// The run store: one SQLite database per run directory (RUN_DIR/run.db), written by one
// writer thread while any number of readers (the studio, `aha runs`, a user's sqlite3)
// read it. WAL mode: readers never block the writer and see a consistent snapshot.
//
// The writer's methods only enqueue: they never touch the disk on the caller's thread,
// so the training loop is never blocked by I/O. The writer thread commits the queue in
// one transaction at least every kFlushInterval, so a kill -9 loses at most that much.
// Schema and design notes: README, "Run store".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aha {

constexpr int kStoreSchemaVersion = 2;  // engine/store_schema.cpp has every version's DDL
constexpr double kFlushIntervalS = 0.25;
const char* store_file_name();  // "run.db"

struct RunInfo {
  std::string name, config_toml, version, host, notes;
  std::vector<std::string> tags;
};

struct TraceRecord {
  int64_t step = 0;
  std::string stage, split = "train";  // split: "train" | "eval"
  std::string prompt, completion;
  int64_t group_id = 0;
  std::map<std::string, double> rewards;  // per reward function
  double advantage = 0.0;
  std::string aha_spans_json = "[]";      // [[begin, end], ...] byte offsets in completion
  double language_share = 1.0;            // share of the reasoning in the target language
  bool truncated = false;
};

struct MoeLayerRecord {
  int layer = 0;
  std::vector<int64_t> tokens;  // per expert
  std::vector<float> bias;      // per expert (aux-loss-free correction bias)
};

struct Fp8Record {
  int layer = 0;
  std::string tensor;
  double amax = 0, underflow = 0, overflow = 0;
};

class RunStoreWriter {
 public:
  // Creates RUN_DIR/run.db for a new run (IoError if it exists or cannot be created).
  static std::unique_ptr<RunStoreWriter> create(const std::string& run_dir, const RunInfo& info);
  // Reopens an existing run's database to continue it (aha train --resume).
  static std::unique_ptr<RunStoreWriter> reopen(const std::string& run_dir);
  ~RunStoreWriter();

  void stage_started(const std::string& stage);
  void stage_ended(const std::string& stage, const std::string& status);
  void metrics(const std::string& stage, int64_t step, double wall_s, int64_t tokens,
               const std::map<std::string, double>& values);
  void moe(const std::string& stage, int64_t step, const std::vector<MoeLayerRecord>& layers);
  void fp8(const std::string& stage, int64_t step, const std::vector<Fp8Record>& rows);
  void trace(const TraceRecord& t);
  void event(const std::string& kind, const std::string& stage, int64_t step, const std::string& message);
  void checkpoint(const std::string& stage, int64_t step, const std::string& path,
                  const std::map<std::string, double>& metrics);
  // On resume from a checkpoint at `step`: drops the rows of `stage` recorded after it
  // (they came from training that the checkpoint does not contain) and records an event.
  void rewind(const std::string& stage, int64_t step);
  // Marks the run finished / stopped / failed, commits everything and stops the thread.
  void finish(const std::string& status);
  // Waits until everything queued so far is committed (tests, benchmarks).
  void flush();
  // The first error the writer thread met (disk full, read-only directory), or "".
  // Once set, nothing more is written and what was committed stays intact.
  std::string error() const;
  uint64_t committed_rows() const;
  // Largest wall time recorded so far (a resumed run continues its time axis from it).
  double last_wall() const;

  struct Impl;
 private:
  explicit RunStoreWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Adds evaluation results to an existing run's database (aha eval on one of its
// checkpoints) without touching its status: metrics at (stage, step) and traces, in one
// transaction. Safe while the run's own writer is active (SQLite locking).
void append_to_run(const std::string& run_dir, const std::string& stage, int64_t step,
                   const std::map<std::string, double>& metrics, const std::vector<TraceRecord>& traces);

// Replaces a run's tags and notes (the studio's run browser edits them). One UPDATE,
// safe while the run's own writer is active.
void annotate_run(const std::string& run_dir, const std::vector<std::string>& tags, const std::string& notes);

// ---- reading -------------------------------------------------------------------------

struct StageRow { std::string name, status; double started_at = 0, ended_at = 0; };
struct CheckpointRow { std::string stage, path; int64_t step = 0; double wall = 0; std::string metrics_json; };
struct EventRow { double wall = 0; std::string kind, stage, message; int64_t step = 0; };
struct RunSummary {
  std::string dir, uuid, name, status, config_toml, version, host, notes;
  std::vector<std::string> tags;
  double created_at = 0, ended_at = 0;
  std::vector<StageRow> stages;
  std::vector<CheckpointRow> checkpoints;
  std::map<std::string, double> latest;  // last value of every metric series
  int64_t last_step = 0;
};
struct Bucket {                 // one min/max bucket of a decimated series
  double x_min = 0, x_max = 0;  // x range of the points in it
  double min = 0, max = 0;      // their values' min and max
  double mean = 0;
  int64_t count = 0;
};
struct TraceRow : TraceRecord { int64_t id = 0; };

class RunStoreReader {
 public:
  // Opens RUN_DIR/run.db (or a path to a .db) read-only. A run left "running" by a
  // process that is gone is reported — and, when `mark_interrupted`, recorded — as
  // "interrupted". Refuses (FormatError) a non-SQLite or corrupt file and a database
  // written by a newer schema, and never modifies such a file.
  static RunStoreReader open(const std::string& path, bool mark_interrupted = true);
  // The same, optionally without PRAGMA quick_check (which reads the whole file).
  static RunStoreReader open_checked(const std::string& path, bool mark_interrupted, bool quick_check);
  RunStoreReader(RunStoreReader&&) noexcept;
  ~RunStoreReader();

  RunSummary summary() const;
  std::vector<std::string> series() const;
  // Every point of a series in x order: (step, wall, tokens, value).
  struct Point { int64_t step = 0; double wall = 0; int64_t tokens = 0; double value = 0; };
  std::vector<Point> points(const std::string& name) const;
  // Min/max decimation for plotting: the x range [x0, x1] (x = "step", "wall" or
  // "tokens") cut into `buckets` equal parts; each non-empty part returns the true min
  // and max of its points. Cost is one indexed range scan; the result has ≤ buckets rows.
  // x = "run_step" / "run_tokens" are the run-wide axes of stage_steps(): each point's
  // step (tokens) plus its stage's offset, so pretrain, SFT and GRPO lie one after another.
  std::vector<Bucket> decimate(const std::string& name, const std::string& x, double x0, double x1,
                               int buckets) const;
  // The run-wide step and token axes. Steps and a stage's token count restart in each
  // stage, so a chart over the whole run places each stage after the ones before it: a
  // stage's offset is the sum of the earlier stages' last steps (largest step with
  // metrics), its token offset the sum of their token counts at those steps. One row per
  // stage name with metrics, in the order the stages started (a resumed stage keeps its
  // place). Cheap: index seeks per (series, stage), never a scan.
  struct StageSteps {
    std::string stage;
    int64_t offset = 0, last_step = 0;
    int64_t token_offset = 0, last_tokens = 0;
  };
  std::vector<StageSteps> stage_steps() const;
  std::vector<TraceRow> search_traces(const std::string& fts_query, int limit = 50) const;
  std::vector<TraceRow> traces(int64_t step, const std::string& stage, int limit = 1000) const;
  std::vector<EventRow> events() const;
  // MoE rows of one step: layer → tokens per expert, bias per expert.
  std::vector<MoeLayerRecord> moe(const std::string& stage, int64_t step) const;
  // (stage, step) pairs that have MoE rows / traces, in recording order.
  std::vector<std::pair<std::string, int64_t>> moe_steps() const;
  std::vector<std::pair<std::string, int64_t>> trace_steps() const;
  // Every trace with at least one aha span, in (stage, step, id) order — the studio's aha
  // timeline over a whole run, without reading any completion text.
  struct AhaMoment { std::string stage, split; int64_t step = 0, trace_id = 0; };
  std::vector<AhaMoment> aha_moments() const;
  // One layer's expert loads and biases at every recorded step (expert × step heatmap).
  struct MoeHistoryRow { std::string stage; int64_t step = 0; std::vector<int64_t> tokens; std::vector<float> bias; };
  std::vector<MoeHistoryRow> moe_history(int layer) const;
  // Per layer and step: max/mean load and coefficient of variation (imbalance over time).
  struct ImbalanceRow { std::string stage; int64_t step = 0; int layer = 0; double imbalance = 0, cv = 0; };
  std::vector<ImbalanceRow> moe_imbalance() const;
  // The FP8 statistics of the newest step that recorded them (empty when the run never
  // trained in FP8), and that step.
  std::vector<Fp8Record> fp8_latest(std::string* stage = nullptr, int64_t* step = nullptr) const;
  int schema_version() const;
  std::string summary_status() const;  // the status alone (cheap)

  struct Impl;
 private:
  friend class RunFollower;
  explicit RunStoreReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Follows a run that another process is writing, by polling its database: each poll
// returns the points and events committed since the previous one. A poll reads only the
// new rows (a primary-key range per series past the last step seen), so following a long
// run costs as little as following a short one.
class RunFollower {
 public:
  explicit RunFollower(const std::string& run_dir);
  ~RunFollower();
  struct Point { std::string series, stage; int64_t step = 0; double wall = 0; int64_t tokens = 0; double value = 0; };
  struct Update {
    std::vector<Point> points;     // in (series, stage, step) order
    std::vector<EventRow> events;  // in order
    std::string status;            // the run's status now
  };
  Update poll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Run directories of a workspace (subdirectories holding run.db), sorted by name.
std::vector<std::string> list_run_dirs(const std::string& workspace);

}  // namespace aha

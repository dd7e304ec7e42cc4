// The run store: concurrent writer and readers, crash safety under kill -9, migrations,
// refusal of newer / corrupt / non-SQLite files (left untouched), decimation that keeps
// each bucket's true min and max, full-text search over traces, and a full disk.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "engine/error.h"
#include "engine/sqlite_util.h"
#include "engine/store.h"
#include "engine/store_schema.h"

namespace aha {
namespace {
namespace fs = std::filesystem;

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Dir {
  fs::path p;
  explicit Dir(const std::string& tag) {
    p = fs::temp_directory_path() / ("aha_store_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~Dir() { std::error_code ec; fs::permissions(p, fs::perms::owner_all, fs::perm_options::add, ec); fs::remove_all(p, ec); }
};

std::string slurp(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

RunInfo info(const std::string& name) {
  RunInfo i;
  i.name = name;
  i.config_toml = "name = \"" + name + "\"\n";
  i.version = "test";
  return i;
}

TEST(Store, WriterWithConcurrentReaders) {
  Dir d("concurrent");
  auto w = RunStoreWriter::create(d.p.string(), info("c"));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, errors{0};
  std::thread reader([&] {
    size_t last = 0;
    while (!done) {
      try {
        RunStoreReader r = RunStoreReader::open(d.p.string(), false);
        const size_t n = r.points("loss").size();
        if (n < last) errors++;  // a reader never sees the series shrink
        last = n;
        r.summary();
        reads++;
      } catch (const std::exception&) {
        errors++;
      }
    }
  });
  const int steps = 3000;
  for (int s = 1; s <= steps; s++) {
    w->metrics("pretrain", s, s * 0.01, s * 100, {{"loss", 1.0 / s}, {"lr", 1e-3}});
    if (s % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  w->finish("finished");
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(reads.load(), 3);
  RunStoreReader r = RunStoreReader::open(d.p.string());
  auto pts = r.points("loss");
  ASSERT_EQ(pts.size(), (size_t)steps);
  EXPECT_EQ(pts.back().step, steps);
  EXPECT_DOUBLE_EQ(pts.back().value, 1.0 / steps);
  EXPECT_EQ(r.summary().status, "finished");
  EXPECT_EQ(r.summary().latest.at("loss"), 1.0 / steps);
}

// A child process writes metrics as fast as it can, each stamped with the wall-clock time
// it was produced; the parent kills it with SIGKILL at a random moment. The database must
// pass integrity_check, hold every metric produced until 1 s before the kill, and read as
// "interrupted".
TEST(Store, SurvivesKill9AtRandomMoments) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 12; trial++) {
    Dir d("crash" + std::to_string(trial));
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      auto w = RunStoreWriter::create(d.p.string(), info("crash"));
      (void)!write(ready[1], "x", 1);
      for (int64_t s = 1;; s++) {
        w->metrics("pretrain", s, now_s(), s, {{"loss", (double)s}, {"t", now_s()}});
        if (s % 200 == 0) w->trace({s, "pretrain", "train", "p", "c " + std::to_string(s)});
        if (s % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    const double ready_time = now_s();
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 900));
    const double kill_time = now_s();
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    {
      sql::Db db((d.p / "run.db").string(), SQLITE_OPEN_READONLY);
      sql::Stmt ic(db, "PRAGMA integrity_check");
      ASSERT_TRUE(ic.step());
      EXPECT_EQ(ic.text(0), "ok") << "trial " << trial;
    }
    RunStoreReader r = RunStoreReader::open(d.p.string());
    auto t = r.points("t");
    auto loss = r.points("loss");
    if (t.empty()) {
      // nothing committed yet is "lost at most 1 s" only if the writer lived less than that
      // (its first commit comes a flush interval after the first row, later on a busy machine)
      EXPECT_LT(kill_time - ready_time, 1.0) << "trial " << trial << ": nothing committed";
      EXPECT_TRUE(loss.empty());
    } else {
      EXPECT_GE(t.back().value, kill_time - 1.0) << "trial " << trial << ": lost more than 1 s of metrics";
      // steps are contiguous: nothing in the middle was lost
      EXPECT_EQ(loss.back().step, (int64_t)loss.size()) << "trial " << trial;
    }
    EXPECT_EQ(r.summary().status, "interrupted");
    sql::Db db((d.p / "run.db").string(), SQLITE_OPEN_READONLY);
    sql::Stmt st(db, "SELECT status FROM run");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.text(0), "interrupted") << "opening it recorded the interruption";
  }
}

TEST(Store, MigratesAVersion1Database) {
  Dir d("migrate");
  const std::string path = (d.p / "run.db").string();
  {
    sql::Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    store::create_schema_v1(db);
    db.exec("INSERT INTO run VALUES (1, 'old', 'finished', 1.0, 2.0, 'name = \"old\"', 'v1', 'h', 1, 2.0, '', '[]')");
    db.exec("INSERT INTO stage VALUES (1, 'pretrain', 'finished', 1.0, 2.0)");
    db.exec("INSERT INTO series VALUES (1, 'loss')");
    db.exec("INSERT INTO metric VALUES (1, 1, 1, 1.5, 10, 3.0), (1, 1, 2, 1.6, 20, 2.0)");
    db.exec("INSERT INTO moe VALUES (1, 2, 1, 0, 30, 0.0), (1, 2, 1, 1, 10, 0.0)");
  }
  {
    RunStoreReader r = RunStoreReader::open(d.p.string());
    EXPECT_EQ(r.schema_version(), kStoreSchemaVersion);
    EXPECT_EQ(r.points("loss").size(), 2u);
    EXPECT_EQ(r.summary().name, "old");
    sql::Db db(path, SQLITE_OPEN_READONLY);
    sql::Stmt s(db, "SELECT imbalance, cv FROM moe_layer WHERE step = 2 AND layer = 1");
    ASSERT_TRUE(s.step()) << "the migration filled the new summary table from the old rows";
    EXPECT_DOUBLE_EQ(s.f64(0), 1.5);  // max 30 / mean 20
    EXPECT_DOUBLE_EQ(s.f64(1), 0.5);  // std 10 / mean 20
  }
  // a writer continues a migrated run
  auto w = RunStoreWriter::reopen(d.p.string());
  w->metrics("pretrain", 3, 1.7, 30, {{"loss", 1.0}});
  w->finish("finished");
  EXPECT_EQ(RunStoreReader::open(d.p.string()).points("loss").size(), 3u);
}

TEST(Store, RefusesNewerCorruptAndForeignFilesWithoutTouchingThem) {
  Dir d("refuse");
  {
    auto w = RunStoreWriter::create(d.p.string(), info("n"));
    w->metrics("pretrain", 1, 0.1, 1, {{"loss", 1.0}});
    w->finish("finished");
  }
  const fs::path db = d.p / "run.db";
  {
    sql::Db raw(db.string(), SQLITE_OPEN_READWRITE);
    raw.exec("PRAGMA user_version = 99");
  }
  const std::string newer = slurp(db);
  try {
    RunStoreReader::open(d.p.string());
    FAIL() << "opened a newer database";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(RunStoreWriter::reopen(d.p.string()), FormatError);
  EXPECT_EQ(slurp(db), newer);

  Dir f("foreign");
  std::ofstream(f.p / "run.db") << "this is a text file, not a database\n" << std::string(5000, 'x');
  const std::string foreign = slurp(f.p / "run.db");
  EXPECT_THROW(RunStoreReader::open(f.p.string()), FormatError);
  EXPECT_THROW(RunStoreWriter::reopen(f.p.string()), FormatError);
  EXPECT_EQ(slurp(f.p / "run.db"), foreign);

  // a real database with damaged pages
  Dir c("corrupt");
  {
    auto w = RunStoreWriter::create(c.p.string(), info("c"));
    for (int s = 1; s <= 3000; s++) w->metrics("pretrain", s, s, s, {{"loss", s * 1.0}, {"lr", 1.0}});
    w->finish("finished");
  }
  {
    sql::Db raw((c.p / "run.db").string(), SQLITE_OPEN_READWRITE);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  std::string bytes = slurp(c.p / "run.db");
  ASSERT_GT(bytes.size(), 40000u);
  for (size_t i = 8192; i < 8192 + 4096; i++) bytes[i] = (char)(i * 7);
  std::ofstream(c.p / "run.db", std::ios::binary) << bytes;
  EXPECT_THROW(RunStoreReader::open(c.p.string()), FormatError);
  EXPECT_EQ(slurp(c.p / "run.db"), bytes);
}

TEST(Store, DecimationKeepsTheTrueMinAndMaxOfEachBucket) {
  Dir d("decimate");
  auto w = RunStoreWriter::create(d.p.string(), info("d"));
  std::mt19937 rng(7);
  std::normal_distribution<double> nd(0, 1);
  const int n = 20000;
  for (int s = 1; s <= n; s++) w->metrics("pretrain", s, 0.5 * s, 256 * s, {{"loss", nd(rng)}});
  w->finish("finished");
  RunStoreReader r = RunStoreReader::open(d.p.string());
  const auto pts = r.points("loss");
  for (std::string x : {"step", "wall", "tokens"}) {
    const double x0 = x == "step" ? 1234 : x == "wall" ? 617 : 256 * 1234, x1 = x == "step" ? 17777 : x == "wall" ? 8888.5 : 256.0 * 17777;
    const int buckets = 37;
    auto bs = r.decimate("loss", x, x0, x1, buckets);
    ASSERT_LE((int)bs.size(), buckets);
    ASSERT_GE((int)bs.size(), buckets - 1);
    int64_t total = 0;
    for (const Bucket& b : bs) {
      double mn = INFINITY, mx = -INFINITY;
      int64_t cnt = 0;
      for (const auto& p : pts) {
        const double xv = x == "step" ? p.step : x == "wall" ? p.wall : p.tokens;
        if (xv >= b.x_min && xv <= b.x_max) { mn = std::min(mn, p.value); mx = std::max(mx, p.value); cnt++; }
      }
      EXPECT_EQ(b.min, mn);
      EXPECT_EQ(b.max, mx);
      EXPECT_EQ(b.count, cnt);
      total += b.count;
    }
    int64_t in_range = 0;
    for (const auto& p : pts) {
      const double xv = x == "step" ? p.step : x == "wall" ? p.wall : p.tokens;
      in_range += xv >= x0 && xv <= x1;
    }
    EXPECT_EQ(total, in_range) << x << ": every point of the range is in exactly one bucket";
  }
}

TEST(Store, FullTextSearchFindsATraceByAWordInItsReasoning) {
  Dir d("fts");
  auto w = RunStoreWriter::create(d.p.string(), info("f"));
  for (int i = 0; i < 50; i++) {
    TraceRecord t;
    t.step = i / 10;
    t.stage = "grpo";
    t.prompt = "What is " + std::to_string(i) + " + 1?";
    t.completion = "<think>" + std::to_string(i) + " plus one</think><answer>" + std::to_string(i + 1) + "</answer>";
    if (i == 23) t.completion = "<think>23 + 1 = 25. Wait, let me recheck: 23 + 1 = 24.</think><answer>24</answer>";
    if (i == 23) t.aha_spans_json = "[[21,25,\"keyword\"]]";  // as the engine writes them
    t.group_id = i / 5;
    t.rewards = {{"accuracy", 1.0}, {"format", 1.0}};
    t.advantage = 0.5;
    w->trace(t);
  }
  w->finish("finished");
  RunStoreReader r = RunStoreReader::open(d.p.string());
  auto hits = r.search_traces("recheck");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].step, 2);
  EXPECT_EQ(hits[0].stage, "grpo");
  EXPECT_NE(hits[0].completion.find("Wait"), std::string::npos);
  EXPECT_EQ(hits[0].rewards.at("accuracy"), 1.0);
  EXPECT_EQ(r.traces(2, "grpo").size(), 10u);
  EXPECT_THROW(r.search_traces("\"unbalanced"), InvalidArgument);
  // the aha timeline: only the self-corrected trace, with its step and id
  const auto moments = r.aha_moments();
  ASSERT_EQ(moments.size(), 1u);
  EXPECT_EQ(moments[0].trace_id, hits[0].id);
  EXPECT_EQ(moments[0].step, 2);
  EXPECT_EQ(moments[0].stage, "grpo");
  EXPECT_EQ(moments[0].split, "train");
}

TEST(Store, AFullDiskStopsWritingAndKeepsWhatWasCommitted) {
  Dir d("full");
  auto w = RunStoreWriter::create(d.p.string(), info("full"));
  for (int s = 1; s <= 100; s++) w->metrics("pretrain", s, s, s, {{"loss", 1.0}});
  w->flush();
  ASSERT_EQ(w->error(), "");
  // the file size limit acts like a full disk, and works even for root
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = fs::file_size(d.p / "run.db") + fs::file_size(d.p / "run.db-wal") + 4096;
  auto old = std::signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  for (int s = 101; s <= 20000; s++) w->metrics("pretrain", s, s, s, {{"loss", 2.0}, {"pad", s * 1.5}});
  w->flush();
  const std::string err = w->error();
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old);
  EXPECT_NE(err, "") << "the writer reports the failure";
  w.reset();
  RunStoreReader r = RunStoreReader::open(d.p.string(), false);
  EXPECT_GE(r.points("loss").size(), 100u);
  sql::Db db((d.p / "run.db").string(), SQLITE_OPEN_READONLY);
  sql::Stmt ic(db, "PRAGMA integrity_check");
  ASSERT_TRUE(ic.step());
  EXPECT_EQ(ic.text(0), "ok");
}

}  // namespace
}  // namespace aha

#include "engine/events.h"

namespace aha {
namespace {

// Another process writes a run slowly; a follower polling its database sees every point
// exactly once, in order, the events, and the final status.
TEST(Store, FollowerTailsARunWrittenByAnotherProcess) {
  Dir d("follow");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    auto w = RunStoreWriter::create(d.p.string(), info("f"));
    w->event("started", "", 0, "");
    w->flush();
    (void)!write(ready[1], "x", 1);
    for (int s = 1; s <= 60; s++) {
      w->metrics("pretrain", s, s * 0.01, s * 10, {{"loss", 1.0 / s}, {"lr", 0.1}});
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    w->event("finished", "pretrain", 60, "");
    w->finish("finished");
    _exit(0);
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  RunFollower f(d.p.string());
  std::vector<int64_t> loss_steps;
  std::vector<std::string> kinds;
  int polls = 0;
  std::string status;
  for (;;) {
    auto u = f.poll();
    polls++;
    for (const auto& p : u.points) if (p.series == "loss") loss_steps.push_back(p.step);
    for (const auto& e : u.events) kinds.push_back(e.kind);
    status = u.status;
    if (status != "running") { auto last = f.poll(); for (const auto& p : last.points) if (p.series == "loss") loss_steps.push_back(p.step); for (const auto& e : last.events) kinds.push_back(e.kind); break; }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_EQ(status, "finished");
  EXPECT_GT(polls, 3) << "the run was followed while it was written";
  ASSERT_EQ(loss_steps.size(), 60u);
  for (size_t i = 0; i < loss_steps.size(); i++) EXPECT_EQ(loss_steps[i], (int64_t)i + 1);
  EXPECT_EQ(kinds, (std::vector<std::string>{"started", "finished"}));
}

TEST(EventStreamTest, NeverBlocksAndCountsWhatItDrops) {
  EventStream s(100);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; i++) {
    Event e;
    e.kind = Event::Kind::Step;
    e.step = i;
    s.push(e);
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  EXPECT_EQ(s.dropped(), 100000u - 100u);
  auto first = s.pop(std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->step, 100000 - 100) << "the oldest are dropped, the newest kept";
}

}  // namespace
}  // namespace aha

#include "engine/config.h"
#include "engine/run.h"

namespace aha {
namespace {

TEST(Store, TrainingStopsCleanlyWhenTheDiskFills) {
  Dir d("runfull");
  RunConfig cfg = load_config("micro");
  cfg.train.steps = 100000;
  std::string error;
  size_t before = 0;
  {
    aha::Run run(cfg, (d.p / "run").string());
    run.start();
    while (auto e = run.events().pop(std::chrono::seconds(30)))
      if (e->kind == Event::Kind::Step && e->step >= 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // > 2 flush intervals
    before = RunStoreReader::open((d.p / "run").string(), false).points("loss").size();
    // the database cannot grow any more: a full disk (works even for root)
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit small = saved;
    small.rlim_cur = fs::file_size(d.p / "run" / "run.db") + fs::file_size(d.p / "run" / "run.db-wal");
    auto old = std::signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    while (auto e = run.events().pop(std::chrono::seconds(60)))
      if (e->kind == Event::Kind::Error) { error = e->message; break; }
    run.wait();
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old);
    EXPECT_EQ(run.status(), RunStatus::Failed);
  }
  EXPECT_NE(error.find("run store"), std::string::npos) << error;
  EXPECT_NE(error.find("run.db"), std::string::npos) << "the message names the file: " << error;
  RunStoreReader r = RunStoreReader::open((d.p / "run").string(), false);
  EXPECT_GE(before, 20u);
  EXPECT_GE(r.points("loss").size(), before) << "what was committed before the disk filled is there";
  sql::Db db((d.p / "run" / "run.db").string(), SQLITE_OPEN_READONLY);
  sql::Stmt ic(db, "PRAGMA integrity_check");
  ASSERT_TRUE(ic.step());
  EXPECT_EQ(ic.text(0), "ok");
}

TEST(Store, AnUnwritableRunDirectoryIsAClearErrorBeforeTraining) {
  Dir d("nowrite");
  std::ofstream(d.p / "file") << "x";
  RunConfig cfg = load_config("micro");
  try {
    aha::Run run(cfg, (d.p / "file" / "run").string());
    FAIL() << "created a run under a regular file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("run.db"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

TEST(Store, LatestValuesFollowTheLastStageAndRewindCreatesNoStage) {
  Dir d("stages");
  {
    auto w = RunStoreWriter::create(d.p.string(), info("s"));
    w->stage_started("pretrain");
    for (int s = 1; s <= 100; s++) w->metrics("pretrain", s, s, s, {{"loss", 5.0}});
    w->stage_ended("pretrain", "finished");
    w->stage_started("sft");
    for (int s = 1; s <= 10; s++) w->metrics("sft", s, 100 + s, s, {{"loss", 1.0}});
    w->rewind("grpo", 0);  // a stage that never started
    w->finish("finished");
  }
  RunStoreReader r = RunStoreReader::open(d.p.string());
  const RunSummary s = r.summary();
  EXPECT_EQ(s.latest.at("loss"), 1.0) << "the latest value is the last stage's, not the largest step's";
  EXPECT_EQ(s.last_step, 10);
  ASSERT_EQ(s.stages.size(), 2u);
  EXPECT_EQ(s.stages[0].name, "pretrain");
  EXPECT_EQ(s.stages[1].name, "sft");
}

TEST(Store, RunStepAxisPlacesEachStageAfterTheOnesBeforeIt) {
  Dir d("runstep");
  {
    auto w = RunStoreWriter::create(d.p.string(), info("r"));
    w->stage_started("pretrain");
    for (int s = 4; s <= 40; s += 4) w->metrics("pretrain", s, s, 100 * s, {{"loss", 10.0 + s}});
    w->metrics("pretrain", 41, 41, 4100, {{"eval_loss", 3.0}});  // another series ends later
    w->stage_ended("pretrain", "finished");
    w->stage_started("sft");  // no metrics: takes no room
    w->stage_ended("sft", "finished");
    w->stage_started("grpo");
    for (int s = 1; s <= 5; s++) w->metrics("grpo", s, 100 + s, 5000 + s, {{"loss", 1.0 * s}});
    w->finish("finished");
  }
  RunStoreReader r = RunStoreReader::open(d.p.string());
  const auto st = r.stage_steps();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].stage, "pretrain");
  EXPECT_EQ(st[0].offset, 0);
  EXPECT_EQ(st[0].last_step, 41) << "the stage's last step over every series";
  EXPECT_EQ(st[1].stage, "grpo");
  EXPECT_EQ(st[1].offset, 41);
  EXPECT_EQ(st[1].last_step, 5);
  EXPECT_EQ(st[0].last_tokens, 4100) << "the token count at the stage's last step";
  EXPECT_EQ(st[1].token_offset, 4100);
  EXPECT_EQ(st[1].last_tokens, 5005);
  const auto tk = r.decimate("loss", "run_tokens", 0, 1e9, 1);
  ASSERT_EQ(tk.size(), 1u);
  EXPECT_EQ(tk[0].x_min, 400);
  EXPECT_EQ(tk[0].x_max, 4100 + 5005);
  // One bucket per point over the run-wide axis: pretrain's 10 points, then grpo's at 42..46.
  const auto bs = r.decimate("loss", "run_step", 0.5, 46.5, 46);
  ASSERT_EQ(bs.size(), 15u);
  EXPECT_EQ(bs[9].x_min, 40);
  EXPECT_EQ(bs[9].mean, 50.0);
  EXPECT_EQ(bs[10].x_min, 42);
  EXPECT_EQ(bs[10].mean, 1.0);
  EXPECT_EQ(bs[14].x_max, 46);
  EXPECT_EQ(bs[14].mean, 5.0);
  // The plain step axis overlays the stages (grpo's steps 1..5 fall in the first buckets).
  EXPECT_EQ(r.decimate("loss", "step", 0, 5, 1).at(0).count, 6);
  EXPECT_THROW(r.decimate("loss", "epoch", 0, 1, 1), InvalidArgument);
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {
TEST(Store, AnnotationsMoeHistoryAndTraceStepsReadBackWhatWasWritten) {
  Dir d("annot");
  auto w = RunStoreWriter::create(d.p.string(), info("a"));
  for (int step = 1; step <= 3; step++) {
    MoeLayerRecord l1{1, {10 * step, 20, 30, 40}, {0.1f * step, 0, 0, -0.1f}};
    MoeLayerRecord l2{2, {25, 25, 25, 25}, {0, 0, 0, 0}};
    w->moe("pretrain", step, {l1, l2});
  }
  TraceRecord t;
  t.stage = "grpo";
  t.step = 5;
  w->trace(t);
  t.step = 7;
  w->trace(t);
  w->flush();
  annotate_run(d.p.string(), {"baseline", "fp32"}, "first try");  // while the writer is open
  w->finish("finished");
  RunStoreReader r = RunStoreReader::open(d.p.string());
  const RunSummary s = r.summary();
  EXPECT_EQ(s.tags, (std::vector<std::string>{"baseline", "fp32"}));
  EXPECT_EQ(s.notes, "first try");
  EXPECT_EQ(s.status, "finished");
  const auto h = r.moe_history(1);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[2].step, 3);
  EXPECT_EQ(h[2].tokens, (std::vector<int64_t>{30, 20, 30, 40}));
  EXPECT_FLOAT_EQ(h[1].bias[0], 0.2f);
  EXPECT_EQ(r.moe_steps().size(), 3u);
  const auto imb = r.moe_imbalance();
  ASSERT_EQ(imb.size(), 6u);  // 2 layers x 3 steps, ordered by layer
  EXPECT_EQ(imb[0].layer, 1);
  EXPECT_NEAR(imb[0].imbalance, 40.0 / 25.0, 1e-9);  // step 1: loads 10 20 30 40
  EXPECT_NEAR(imb[3].imbalance, 1.0, 1e-9);           // layer 2 is balanced
  const auto ts = r.trace_steps();
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(ts[1], (std::pair<std::string, int64_t>{"grpo", 7}));
  EXPECT_TRUE(r.aha_moments().empty());  // both traces have no spans ("[]")
  EXPECT_THROW(annotate_run((d.p / "nope").string(), {}, ""), IoError);
}
}  // namespace
}  // namespace aha

#include "engine/run.h"
namespace aha {
namespace {
TEST(Checkpoints, StageAndStepFromTheDirectoryName) {
  std::string stage;
  int64_t step = 0;
  ASSERT_TRUE(checkpoint_stage_step("runs/x/checkpoints/grpo_step000004/", stage, step));
  EXPECT_EQ(stage, "grpo");
  EXPECT_EQ(step, 4);
  EXPECT_TRUE(checkpoint_stage_step("pretrain_step004900", stage, step));
  EXPECT_EQ(step, 4900);
  for (const char* bad : {"grpo_reference", "_step12", "sft_step12.partial", "sft_stepx"})
    EXPECT_FALSE(checkpoint_stage_step(bad, stage, step)) << bad;
}
}  // namespace
}  // namespace aha

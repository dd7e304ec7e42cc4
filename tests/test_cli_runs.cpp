// `aha runs` run as a user runs it: two real training runs that differ only in train.lr
// and a corrupt run.db, then list, show, export, compare and rm on them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/store.h"

namespace {
namespace runs_cli {
namespace fs = std::filesystem;

struct Result { int code; std::string out; };

// Runs the aha binary; `merge` folds stderr into the output (error messages), otherwise
// stderr is dropped so --json output parses as is.
Result run_aha(const std::string& args, bool merge = true) {
  const std::string cmd = std::string(AHA_BIN) + " " + args + (merge ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// One workspace for the suite: training is the slow part, and only the rm tests change
// it (on runs of their own).
class CliRuns : public ::testing::Test {
 protected:
  static inline fs::path ws;
  static inline std::string wsa;  // "--workspace WS"

  static void SetUpTestSuite() {
    ws = fs::temp_directory_path() / ("aha_cli_runs_" + std::to_string(::getpid()));
    fs::remove_all(ws);
    fs::create_directories(ws);
    wsa = " --workspace " + ws.string();
    Result r = run_aha("train micro --steps 3 --run-dir " + (ws / "a").string());
    ASSERT_EQ(r.code, 0) << r.out;
    // the micro preset with another learning rate: the one config difference
    std::ifstream in(fs::path(AHA_SOURCE_DIR) / "resources" / "presets" / "micro.toml");
    std::ofstream out(ws / "b.toml");
    std::string line;
    while (std::getline(in, line)) out << (line.rfind("lr = ", 0) == 0 ? "lr = 0.001" : line) << "\n";
    out.close();
    r = run_aha("train " + (ws / "b.toml").string() + " --steps 3 --run-dir " + (ws / "b").string());
    ASSERT_EQ(r.code, 0) << r.out;
    fs::create_directories(ws / "bad");
    std::ofstream(ws / "bad" / "run.db") << "this is not a database, just garbage bytes\n";
  }
  static void TearDownTestSuite() { fs::remove_all(ws); }
};

TEST_F(CliRuns, EverySubcommandHasHelp) {
  for (const char* sub : {"runs", "runs list", "runs show", "runs export", "runs compare", "runs rm"}) {
    Result r = run_aha(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << ": " << r.out;
    EXPECT_TRUE(has(r.out, "Usage")) << sub;
  }
}

TEST_F(CliRuns, ListShowsEveryRunAndACorruptOneAsUnreadable) {
  Result r = run_aha("runs list" + wsa);
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  int finished = 0;
  bool bad_listed = false;
  while (std::getline(lines, line)) {
    if ((line.rfind("a ", 0) == 0 || line.rfind("b ", 0) == 0) && has(line, "finished") && has(line, "pretrain")) finished++;
    if (line.rfind("bad ", 0) == 0) bad_listed = has(line, "unreadable") && has(line, "not a database");
  }
  EXPECT_EQ(finished, 2) << r.out;
  EXPECT_TRUE(bad_listed) << r.out;
  EXPECT_FALSE(has(r.out, "\x1b[")) << "no colours into a pipe";

  r = run_aha("runs list --json" + wsa, false);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array()) << r.out;
  std::map<std::string, nlohmann::json> by_dir;  // other tests may add runs of their own
  for (const auto& e : j) by_dir[e["dir"].get<std::string>()] = e;
  for (const char* d : {"a", "b"}) {
    ASSERT_TRUE(by_dir.count(d)) << d << ": " << r.out;
    const auto& e = by_dir[d];
    EXPECT_EQ(e["status"], "finished");
    EXPECT_EQ(e["name"], "micro");
    EXPECT_EQ(e["stage"], "pretrain");
    EXPECT_EQ(e["last_step"], 3);
    EXPECT_TRUE(e["loss"].is_number());
    EXPECT_TRUE(e["eval_loss"].is_number());
  }
  ASSERT_TRUE(by_dir.count("bad")) << r.out;
  EXPECT_EQ(by_dir["bad"]["status"], "unreadable");
  EXPECT_TRUE(has(by_dir["bad"]["error"].get<std::string>(), "not a database"));
}

TEST_F(CliRuns, ShowJsonHasStatusStagesWithCheckpointsAndLatest) {
  Result r = run_aha("runs show a --json" + wsa, false);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "finished");
  ASSERT_EQ(j["stages"].size(), 1u);
  EXPECT_EQ(j["stages"][0]["name"], "pretrain");
  ASSERT_FALSE(j["stages"][0]["checkpoints"].empty());
  for (const auto& c : j["stages"][0]["checkpoints"])
    EXPECT_TRUE(fs::exists(c["path"].get<std::string>())) << c.dump();
  EXPECT_TRUE(j["latest"]["loss"].is_number());
  EXPECT_FALSE(j["events"].empty());
  // a path works as well as a name, and the text form names every section
  r = run_aha("runs show " + (ws / "a").string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"finished", "stages", "checkpoints", "pretrain_step000003", "lm_loss", "events"})
    EXPECT_TRUE(has(r.out, s)) << s << "\n" << r.out;
}

TEST_F(CliRuns, ShowOfACorruptOrMissingRunFailsClearly) {
  Result r = run_aha("runs show bad" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "aha: error: cannot read run 'bad'")) << r.out;
  EXPECT_TRUE(has(r.out, "not a database")) << r.out;
  r = run_aha("runs show nosuch" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "no run 'nosuch'")) << r.out;
}

TEST_F(CliRuns, ExportWritesOneCsvPerSeriesWithFullPrecision) {
  const fs::path out = ws / "export_a";
  Result r = run_aha("runs export a --format csv --out " + out.string() + wsa);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, (out / "loss.csv").string())) << r.out;
  EXPECT_TRUE(fs::exists(out / "events.csv"));
  EXPECT_TRUE(fs::exists(out / "eval_loss.csv"));
  std::ifstream f(out / "loss.csv");
  std::string header, line;
  std::getline(f, header);
  EXPECT_EQ(header, "step,wall,tokens,value");
  std::vector<std::string> rows;
  while (std::getline(f, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u) << "one row per step";
  // the value read back is the stored double, bit for bit
  const auto points = aha::RunStoreReader::open((ws / "a").string()).points("loss");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(std::stod(rows[2].substr(rows[2].rfind(',') + 1)), points[2].value);
  EXPECT_EQ(rows[0].substr(0, 2), "1,");

  r = run_aha("runs export a" + wsa);  // default --out: RUN_DIR/export
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(ws / "a" / "export" / "loss.csv"));
  r = run_aha("runs export a --format parquet --out " + (ws / "never").string() + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "only csv")) << r.out;
  EXPECT_FALSE(fs::exists(ws / "never"));
}

TEST_F(CliRuns, CompareShowsOnlyDifferingKeysThenFinalMetrics) {
  Result r = run_aha("runs compare a " + (ws / "b").string() + wsa);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "train.lr")) << r.out;
  EXPECT_TRUE(has(r.out, "0.003")) << r.out;
  EXPECT_TRUE(has(r.out, "0.001")) << r.out;
  EXPECT_FALSE(has(r.out, "model.hidden_size")) << r.out;
  EXPECT_FALSE(has(r.out, "train.seed")) << r.out;
  const size_t metrics = r.out.find("final metrics");
  ASSERT_NE(metrics, std::string::npos) << r.out;
  for (const char* m : {"loss", "lm_loss", "eval_loss", "tokens_per_s", "mfu"})
    EXPECT_NE(r.out.find(m, metrics), std::string::npos) << m;
  r = run_aha("runs compare a" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "at least two")) << r.out;
}

TEST_F(CliRuns, RmRefusesWithoutYesThenDeletes) {
  Result r = run_aha("train micro --steps 1 --run-dir " + (ws / "c").string());
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_aha("runs rm c" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "--yes")) << r.out;
  EXPECT_TRUE(fs::exists(ws / "c" / "run.db"));
  r = run_aha("runs rm c --yes" + wsa);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(ws / "c"));
  // a folder that is not a run is never removed
  fs::create_directories(ws / "notarun");
  r = run_aha("runs rm " + (ws / "notarun").string() + " --yes" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(fs::exists(ws / "notarun"));
}

TEST_F(CliRuns, RmRefusesARunWithALiveWriter) {
  const fs::path live = ws / "live";
  fs::create_directories(live);
  // this test process is the live writer: its pid is alive, so the run reads "running"
  auto w = aha::RunStoreWriter::create(live.string(), aha::RunInfo{"live", "", "test", "", "", {}});
  w->flush();
  Result r = run_aha("runs rm live --yes" + wsa);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r.out, "running")) << r.out;
  EXPECT_TRUE(fs::exists(live / "run.db"));
  w->finish("stopped");
  w.reset();
  r = run_aha("runs rm live --yes" + wsa);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(live));
}

}  // namespace runs_cli
}  // namespace

// The `aha` command line, run as a user runs it: every subcommand's --help, init →
// score (text, JSON, logits dump), a short train, and bad input that must fail clearly
// and write nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <sstream>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {
namespace fs = std::filesystem;

struct Result { int code; std::string out; };

Result run(const std::string& args) {
  const std::string cmd = std::string(AHA_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

struct Tmp {
  fs::path p = fs::temp_directory_path() / ("aha_cli_" + std::to_string(::getpid()));
  Tmp() { fs::remove_all(p); fs::create_directories(p); }
  ~Tmp() { fs::remove_all(p); }
};

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"init", "train", "score", "bench train"}) {
    Result r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << ": " << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, InitThenScoreTextJsonAndLogits) {
  Tmp t;
  const std::string ck = (t.p / "ck").string();
  Result r = run("init micro --out " + ck + " --seed 5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(fs::path(ck) / "model.safetensors"));
  r = run("score " + ck + " --tokens 1,80,81,82 --json --dump-logits " + (t.p / "l.bin").string());
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["logprobs"].size(), 4u);
  EXPECT_TRUE(j["logprobs"][0].is_null());
  for (int i = 1; i < 4; i++) {
    EXPECT_LT(j["logprobs"][i].get<double>(), 0.0);
    EXPECT_GT(j["logprobs"][i].get<double>(), -20.0);
  }
  EXPECT_EQ(fs::file_size(t.p / "l.bin"), 4u * 264u * sizeof(float));
  // the naive MLA path gives the same log-probabilities
  Result n = run("score " + ck + " --tokens 1,80,81,82 --json --attention naive");
  auto jn = nlohmann::json::parse(n.out);
  for (int i = 1; i < 4; i++) EXPECT_NEAR(jn["logprobs"][i].get<double>(), j["logprobs"][i].get<double>(), 1e-4);
  r = run("score " + ck + " --tokens 1,80");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("logprob"), std::string::npos);
}

TEST(Cli, ShortTrainWritesACheckpoint) {
  Tmp t;
  Result r = run("train micro --steps 3 --run-dir " + (t.p / "run").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("finished: 3 steps"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(t.p / "run" / "checkpoints" / "pretrain_step000003" / "optimizer.safetensors"));
}

TEST(Cli, BadInputFailsClearlyAndWritesNothing) {
  Tmp t;
  std::ofstream(t.p / "bad.toml") << "[model]\nnum_experts_per_tok = 9\n";
  Result r = run("train " + (t.p / "bad.toml").string() + " --run-dir " + (t.p / "never").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("model.num_experts_per_tok"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(t.p / "never"));
  r = run("init nosuchpreset --out " + (t.p / "never").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("tiny"), std::string::npos) << "lists the presets: " << r.out;
  EXPECT_FALSE(fs::exists(t.p / "never"));
  run("init micro --out " + (t.p / "ck").string());
  r = run("score " + (t.p / "ck").string() + " --tokens 1,x,3");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("item 2"), std::string::npos) << r.out;
  r = run("score " + (t.p / "ck").string() + " --tokens 1,999");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("999"), std::string::npos) << r.out;
  r = run("score " + (t.p / "nockpt").string() + " --tokens 1,2");
  EXPECT_EQ(r.code, 1);
  r = run("train micro --steps -4");
  EXPECT_NE(r.code, 0);
}

}  // namespace

namespace {

TEST(Cli, ResumeFromACheckpointContinuesToTheTotalSteps) {
  Tmp t;
  Result r = run("train micro --steps 4 --run-dir " + (t.p / "a").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ck = (t.p / "a" / "checkpoints" / "pretrain_step000004").string();
  r = run("train --resume-from " + ck + " --steps 6 --run-dir " + (t.p / "b").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(t.p / "b" / "checkpoints" / "pretrain_step000006")) << r.out;
  EXPECT_NE(r.out.find("finished: 6 steps"), std::string::npos) << r.out;
}

TEST(Cli, TrainsOnATextFile) {
  Tmp t;
  {
    std::ofstream f(t.p / "corpus.txt");
    for (int i = 0; i < 400; i++) f << "the quick brown fox " << i << " jumps over the lazy dog\n";
  }
  Result r = run("train micro --steps 2 --data " + (t.p / "corpus.txt").string() + " --run-dir " + (t.p / "r").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("corpus.txt"), std::string::npos) << "the log names the data: " << r.out;
  std::ofstream(t.p / "short.txt") << "too short";
  r = run("train micro --steps 2 --data " + (t.p / "short.txt").string() + " --run-dir " + (t.p / "r2").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("fewer than one sequence"), std::string::npos) << r.out;
  r = run("train micro --data " + (t.p / "missing.txt").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing.txt"), std::string::npos) << r.out;
}

}  // namespace

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "engine/store.h"

namespace {

// kill -9 a real `aha train` at a random moment after its first checkpoint, then
// `aha train --resume RUN_DIR`: the database is intact, reads "interrupted" in between,
// and the finished run has every step exactly once.
TEST(Cli, Kill9ThenResumeContinuesTheRun) {
  Tmp t;
  {
    // micro with periodic checkpoints and more steps
    std::string cfg = (t.p / "c.toml").string();
    std::ifstream in(std::string(AHA_SOURCE_DIR) + "/resources/presets/micro.toml");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto replace = [&](const std::string& a, const std::string& b) {
      const auto at = text.find(a);
      ASSERT_NE(at, std::string::npos) << a;
      text.replace(at, a.size(), b);
    };
    replace("steps = 60", "steps = 400");
    replace("log_every = 5", "log_every = 5\ncheckpoint_every = 10");
    std::ofstream(cfg) << text;
  }
  const std::string run_dir = (t.p / "run").string();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cfg = (t.p / "c.toml").string();
    freopen("/dev/null", "w", stderr);
    freopen("/dev/null", "w", stdout);
    execl(AHA_BIN, AHA_BIN, "train", cfg.c_str(), "--run-dir", run_dir.c_str(), (char*)nullptr);
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(fs::path(run_dir) / "checkpoints" / "pretrain_step000020" / "optimizer.safetensors") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(150 + ::getpid() % 200));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  {
    aha::RunStoreReader r = aha::RunStoreReader::open(run_dir);
    EXPECT_EQ(r.summary().status, "interrupted");
    EXPECT_GE(r.points("loss").size(), 20u);
  }
  Result res = run("train --resume " + run_dir);
  ASSERT_EQ(res.code, 0) << res.out;
  EXPECT_NE(res.out.find("continuing from"), std::string::npos) << res.out;
  aha::RunStoreReader r = aha::RunStoreReader::open(run_dir);
  const auto s = r.summary();
  EXPECT_EQ(s.status, "finished");
  const auto loss = r.points("loss");
  ASSERT_EQ(loss.size(), 400u) << "every step exactly once";
  for (size_t i = 0; i < loss.size(); i++) ASSERT_EQ(loss[i].step, (int64_t)i + 1);
  for (size_t i = 1; i < loss.size(); i++)
    ASSERT_GE(loss[i].wall, loss[i - 1].wall) << "the resumed run continues the time axis (step " << i + 1 << ")";
  bool resumed_event = false;
  for (const auto& e : r.events()) resumed_event |= e.kind == "resumed";
  EXPECT_TRUE(resumed_event);
  // a run directory without checkpoints cannot be resumed, with a clear message
  Result bad = run("train --resume " + (t.p / "nothing").string());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("not a run directory"), std::string::npos) << bad.out;
}

}  // namespace

namespace {

TEST(Cli, DataRewardAndEvalCommands) {
  Tmp t;
  // a small curriculum config: micro model with room for the R1 template
  std::ifstream in(std::string(AHA_SOURCE_DIR) + "/resources/presets/micro.toml");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto replace = [&](const std::string& a, const std::string& b) {
    const auto at = text.find(a);
    ASSERT_NE(at, std::string::npos) << a;
    text.replace(at, a.size(), b);
  };
  replace("max_position_embeddings = 256", "max_position_embeddings = 1024");
  text += "\n[curriculum]\npretrain_problems = 200\nsft_problems = 20\nrl_problems = 20\neval_problems = 10\n";
  std::ofstream(t.p / "c.toml") << text;

  Result r = run("data " + (t.p / "c.toml").string() + " --out " + (t.p / "data").string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"pretrain.txt", "sft.jsonl", "rl.jsonl", "eval_arithmetic.jsonl", "eval_countdown.jsonl",
                        "eval_linear.jsonl", "manifest.json"})
    EXPECT_TRUE(fs::exists(t.p / "data" / f)) << f;

  // aha reward: a correct, a wrong and a hostile completion of one Countdown problem
  std::ifstream ev(t.p / "data" / "eval_countdown.jsonl");
  std::string line;
  std::getline(ev, line);
  auto j = nlohmann::json::parse(line);
  std::ofstream rw(t.p / "rw.jsonl");
  for (std::string c : {"<think> found it </think> <answer> " + j["answer"].get<std::string>() + " </answer>",
                        std::string("<think> hmm </think> <answer> 1 + 1 </answer>"), std::string("<answer>") + std::string(5000, '9')}) {
    j["completion"] = c;
    rw << j.dump() << "\n";
  }
  rw.close();
  r = run("reward --task countdown --input " + (t.p / "rw.jsonl").string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> outs;
  for (std::string l; std::getline(lines, l);) outs.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_DOUBLE_EQ(outs[0]["rewards"]["accuracy"]["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(outs[1]["rewards"]["accuracy"]["value"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(outs[2]["total"].get<double>(), 0.0);
  EXPECT_FALSE(outs[2]["rewards"]["accuracy"]["reason"].get<std::string>().empty());
  r = run("reward --task countdown --input " + (t.p / "rw.jsonl").string() + " --tinyzero --json");
  std::istringstream tz(r.out);
  std::getline(tz, line);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(line)["total"].get<double>(), 1.0);
  std::getline(tz, line);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(line)["total"].get<double>(), 0.1);

  // aha eval on a short-trained checkpoint: every metric present, recorded in the run
  r = run("train " + (t.p / "c.toml").string() + " --steps 2 --run-dir " + (t.p / "run").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ck = (t.p / "run" / "checkpoints" / "pretrain_step000002").string();
  r = run("eval " + ck + " --task arithmetic --n 3 --samples 2 --temperature 1 --max-new-tokens 20 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto e = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  for (const char* k : {"pass@1", "pass@2", "maj@2", "format_rate", "mean_length", "language_mix_rate", "aha_rate"})
    EXPECT_TRUE(e.contains(k)) << k;
  EXPECT_EQ(e["problems"], 3);
  aha::RunStoreReader store = aha::RunStoreReader::open((t.p / "run").string());
  EXPECT_TRUE(store.summary().latest.count("eval/arithmetic/pass@1")) << "eval results recorded in the run store";
  EXPECT_EQ(store.traces(2, "pretrain").size(), 6u);
  r = run("eval " + ck + " --task nosuch");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("countdown"), std::string::npos) << "lists the tasks: " << r.out;
}

}  // namespace

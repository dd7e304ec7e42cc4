// The `aha` command line, run as a user runs it: every subcommand's --help, init →
// score (text, JSON, logits dump), a short train, and bad input that must fail clearly
// and write nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
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

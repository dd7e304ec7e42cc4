// aha runs: list, show, follow, export, compare and remove the runs of a workspace.
// Everything here reads run.db through engine/store.h; nothing but `rm` changes a run.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "app/cli.h"

#include <chrono>
#include <thread>
#include "engine/error.h"
#include "engine/store.h"

namespace aha::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Table = std::vector<std::vector<std::string>>;  // first row is the header

// Terminal width of a UTF-8 string: code points, not bytes (names may hold "→", "é").
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Plain aligned columns, two spaces apart: no colours or box drawing, so the output
// reads the same in a terminal, a pipe, a log file and a test.
void print_table(const Table& t) {
  std::vector<size_t> w;
  for (const auto& row : t)
    for (size_t c = 0; c < row.size(); c++) {
      if (w.size() <= c) w.push_back(0);
      w[c] = std::max(w[c], width(row[c]));
    }
  for (const auto& row : t) {
    std::string line;
    for (size_t c = 0; c < row.size(); c++) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(w[c] - width(row[c]) + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);  // empty last cells leave no trailing blanks
    std::cout << line << "\n";
  }
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Epoch seconds → local time; 0 means "not set" (a run that has not ended).
std::string local_time(double t, const char* f = "%Y-%m-%d %H:%M") {
  if (t <= 0) return "-";
  std::time_t s = (std::time_t)t;
  std::tm tm{};
  localtime_r(&s, &tm);
  char b[32];
  std::strftime(b, sizeof b, f, &tm);
  return b;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The name a run is known by: its directory's name ("runs/a/" → "a").
std::string label(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// RUN is a run directory's path, or the name of one inside the workspace. Only a
// directory holding run.db qualifies, so `rm` can never remove an arbitrary folder.
fs::path resolve_run(const std::string& run, const std::string& ws) {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(run) / store_file_name(), ec)) return run;
  const fs::path in_ws = fs::path(ws) / run;
  if (fs::is_regular_file(in_ws / store_file_name(), ec)) return in_ws;
  if (fs::is_directory(run, ec)) throw IoError("'" + run + "' is not a run directory (it holds no " + store_file_name() + ")");
  throw IoError("no run '" + run + "': neither '" + run + "' nor '" + in_ws.string() +
                "' is a run directory (`aha runs list --workspace " + ws + "` lists the runs)");
}

// Runs `f` on the run's open database; a read that fails says which run, the engine's
// message says why.
template <class F>
auto read_run(const fs::path& dir, F&& f, bool mark_interrupted = true) {
  try {
    const RunStoreReader r = RunStoreReader::open(dir.string(), mark_interrupted);
    return f(r);
  } catch (const Error& e) {
    throw FormatError("cannot read run '" + label(dir) + "': " + e.what());
  }
}

RunSummary read_summary(const fs::path& dir, bool mark_interrupted = true) {
  return read_run(dir, [](const RunStoreReader& r) { return r.summary(); }, mark_interrupted);
}

std::string latest_or_dash(const RunSummary& s, const std::string& k, const char* f = "%.4f") {
  auto it = s.latest.find(k);
  return it == s.latest.end() ? "-" : fmt(f, it->second);
}

json opt_metric(const RunSummary& s, const std::string& k) {
  auto it = s.latest.find(k);
  return it == s.latest.end() ? json(nullptr) : json(it->second);
}

// Checkpoint paths are stored as `aha train` was given them, possibly relative to the
// directory it ran in; when that path does not resolve from here, fall back to the same
// checkpoint inside the run directory (a run that was moved or trained from elsewhere).
std::string checkpoint_path(const RunSummary& s, const CheckpointRow& c) {
  std::error_code ec;
  if (fs::exists(c.path, ec)) return c.path;
  const fs::path in_run = fs::path(s.dir) / "checkpoints" / label(c.path);
  return fs::exists(in_run, ec) ? in_run.string() : c.path;
}

json checkpoint_json(const RunSummary& s, const CheckpointRow& c) {
  json j = {{"stage", c.stage}, {"step", c.step}, {"path", checkpoint_path(s, c)}, {"wall", c.wall}};
  try { j["metrics"] = json::parse(c.metrics_json); } catch (const json::exception&) { j["metrics"] = json::object(); }
  return j;
}

// ---- list --------------------------------------------------------------------------

void cmd_list(const std::string& ws, bool as_json) {
  json arr = json::array();
  Table t{{"DIR", "NAME", "STATUS", "STAGE", "STEP", "CREATED", "LOSS", "EVAL_LOSS", "TAGS"}};
  bool any_error = false;
  for (const auto& dir : list_run_dirs(ws)) {
    json j = {{"dir", label(dir)}, {"path", dir}};
    try {
      // the engine's message as is: the row already names the run
      const RunSummary s = RunStoreReader::open(dir).summary();
      const std::string stage = s.stages.empty() ? "" : s.stages.back().name;
      j.update({{"id", s.uuid}, {"name", s.name}, {"status", s.status}, {"stage", stage}, {"last_step", s.last_step},
                {"created", local_time(s.created_at)}, {"created_at", s.created_at},
                {"loss", opt_metric(s, "loss")}, {"eval_loss", opt_metric(s, "eval_loss")}, {"tags", s.tags}});
      t.push_back({label(dir), s.name, s.status, stage.empty() ? "-" : stage, std::to_string(s.last_step),
                   local_time(s.created_at), latest_or_dash(s, "loss"), latest_or_dash(s, "eval_loss"),
                   s.tags.empty() ? "-" : join(s.tags)});
    } catch (const Error& e) {
      // one broken database must not hide the other runs: list it with the reason
      any_error = true;
      j.update({{"status", "unreadable"}, {"error", e.what()}});
      t.push_back({label(dir), "-", "unreadable", "-", "-", "-", "-", "-", "-", e.what()});
    }
    arr.push_back(j);
  }
  if (as_json) { std::cout << arr.dump(2) << "\n"; return; }
  if (arr.empty()) { std::cout << "no runs in '" << ws << "' (aha train PRESET --run-dir " << ws << "/NAME)\n"; return; }
  if (any_error) t[0].push_back("ERROR");
  print_table(t);
}

// ---- show --------------------------------------------------------------------------

void cmd_show(const std::string& run, const std::string& ws, bool as_json) {
  const fs::path dir = resolve_run(run, ws);
  const auto [s, events] = read_run(dir, [](const RunStoreReader& r) { return std::pair(r.summary(), r.events()); });
  if (as_json) {
    json stages = json::array(), cks = json::array(), ev = json::array();
    for (const auto& st : s.stages) {
      json sc = json::array();
      for (const auto& c : s.checkpoints) if (c.stage == st.name) sc.push_back(checkpoint_json(s, c));
      stages.push_back({{"name", st.name}, {"status", st.status}, {"started_at", st.started_at},
                        {"ended_at", st.ended_at}, {"checkpoints", sc}});
    }
    for (const auto& c : s.checkpoints) cks.push_back(checkpoint_json(s, c));
    for (const auto& e : events)
      ev.push_back({{"wall", e.wall}, {"kind", e.kind}, {"stage", e.stage}, {"step", e.step}, {"message", e.message}});
    json j = {{"dir", s.dir}, {"id", s.uuid}, {"name", s.name}, {"status", s.status}, {"created_at", s.created_at},
              {"ended_at", s.ended_at}, {"host", s.host}, {"version", s.version}, {"notes", s.notes},
              {"tags", s.tags}, {"last_step", s.last_step}, {"stages", stages}, {"checkpoints", cks},
              {"latest", s.latest}, {"events", ev}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  const char* sec = "%Y-%m-%d %H:%M:%S";
  Table head{{"run", label(dir) + "  (" + s.dir + ")"}, {"id", s.uuid}, {"name", s.name}, {"status", s.status},
             {"created", local_time(s.created_at, sec)}, {"ended", local_time(s.ended_at, sec)},
             {"host", s.host}, {"version", s.version}, {"tags", s.tags.empty() ? "-" : join(s.tags, ", ")}};
  if (!s.notes.empty()) head.push_back({"notes", s.notes});
  print_table(head);
  std::cout << "\nstages\n";
  Table st{{"  NAME", "STATUS", "STARTED", "ENDED"}};
  for (const auto& r : s.stages)
    st.push_back({"  " + r.name, r.status, local_time(r.started_at, sec), local_time(r.ended_at, sec)});
  print_table(st);
  std::cout << "\ncheckpoints\n";
  Table ck{{"  STAGE", "STEP", "PATH"}};
  for (const auto& c : s.checkpoints) ck.push_back({"  " + c.stage, std::to_string(c.step), checkpoint_path(s, c)});
  print_table(ck);
  std::cout << "\nlatest metrics (last step " << s.last_step << ")\n";
  Table m;
  for (const auto& [k, v] : s.latest) m.push_back({"  " + k, fmt("%.6g", v)});
  print_table(m);
  std::cout << "\nevents\n";
  Table ev{{"  TIME", "STAGE", "STEP", "KIND", "MESSAGE"}};
  for (const auto& e : events)
    ev.push_back({"  " + local_time(e.wall, sec), e.stage.empty() ? "-" : e.stage, std::to_string(e.step), e.kind, e.message});
  print_table(ev);
}

// ---- export ------------------------------------------------------------------------

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A series name becomes a file name: anything but [A-Za-z0-9._-] turns into '_'.
std::string file_stem(std::string s) {
  for (char& c : s)
    if (!std::isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-') c = '_';
  return s.empty() || s[0] == '.' ? "_" + s : s;
}

void cmd_export(const std::string& run, const std::string& ws, const std::string& format, std::string out) {
  if (format != "csv") throw InvalidArgument("--format: only csv is supported, not '" + format + "'");
  const fs::path dir = resolve_run(run, ws);
  using Series = std::vector<std::pair<std::string, std::vector<RunStoreReader::Point>>>;
  const auto [series, events] = read_run(dir, [](const RunStoreReader& r) {
    Series all;
    for (const auto& name : r.series()) all.emplace_back(name, r.points(name));
    return std::pair(all, r.events());
  });
  if (out.empty()) out = (dir / "export").string();
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw IoError("--out: cannot create '" + out + "': " + ec.message());
  auto write = [&](const std::string& name, const std::string& text) {
    const fs::path p = fs::path(out) / name;
    std::ofstream f(p, std::ios::binary);
    f << text;
    if (!f.flush()) throw IoError("cannot write '" + p.string() + "'");
    std::cout << p.string() << "\n";
  };
  char b[128];
  for (const auto& [name, points] : series) {
    std::string text = "step,wall,tokens,value\n";
    for (const auto& p : points) {
      // %.17g: the value read back is bit-identical to the stored double
      std::snprintf(b, sizeof b, "%lld,%.17g,%lld,%.17g\n", (long long)p.step, p.wall, (long long)p.tokens, p.value);
      text += b;
    }
    write(file_stem(name) + ".csv", text);
  }
  std::string text = "wall,kind,stage,step,message\n";
  for (const auto& e : events) {
    std::snprintf(b, sizeof b, "%.17g", e.wall);
    text += std::string(b) + "," + csv_field(e.kind) + "," + csv_field(e.stage) + "," + std::to_string(e.step) +
            "," + csv_field(e.message) + "\n";
  }
  write("events.csv", text);
}

// ---- compare -----------------------------------------------------------------------

// The stored config is to_toml()'s output: `[table]` headers and `key = value` lines.
// Values are compared as text (after dropping a trailing comment outside quotes), which
// is exact for what to_toml writes and good enough for a hand-written file.
std::map<std::string, std::string> flatten_toml(const std::string& text) {
  std::map<std::string, std::string> out;
  std::string table, line;
  std::istringstream in(text);
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(" \t\r"));
    s.erase(s.find_last_not_of(" \t\r") + 1);
    return s;
  };
  while (std::getline(in, line)) {
    bool quoted = false;
    for (size_t i = 0; i < line.size(); i++) {
      if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
      else if (line[i] == '#' && !quoted) { line.resize(i); break; }
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') { table = trim(line.substr(1, line.size() - 2)); continue; }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[(table.empty() ? "" : table + ".") + trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

void cmd_compare(const std::vector<std::string>& runs, const std::string& ws) {
  if (runs.size() < 2) throw InvalidArgument("compare: give at least two runs (got " + std::to_string(runs.size()) + ")");
  std::vector<RunSummary> s;
  std::vector<std::map<std::string, std::string>> cfg;
  std::vector<std::string> header{"KEY"};
  std::set<std::string> keys;
  for (const auto& r : runs) {
    const fs::path dir = resolve_run(r, ws);
    s.push_back(read_summary(dir));
    cfg.push_back(flatten_toml(s.back().config_toml));
    for (const auto& kv : cfg.back()) keys.insert(kv.first);
    header.push_back(label(dir));
  }
  Table diff{header};
  for (const auto& k : keys) {
    std::vector<std::string> row{k};
    for (const auto& c : cfg) row.push_back(c.count(k) ? c.at(k) : "-");
    if (std::any_of(row.begin() + 2, row.end(), [&](const std::string& v) { return v != row[1]; })) diff.push_back(row);
  }
  std::cout << "configuration differences\n";
  if (diff.size() == 1) std::cout << "  (none: the configurations are identical)\n";
  else print_table(diff);
  // only the series every run has: a metric one run lacks has nothing to compare with
  header[0] = "METRIC";
  Table m{header};
  std::vector<std::string> step{"(last step)"}, status{"(status)"};
  for (const auto& r : s) { step.push_back(std::to_string(r.last_step)); status.push_back(r.status); }
  m.push_back(status);
  m.push_back(step);
  for (const auto& [k, v] : s[0].latest) {
    std::vector<std::string> row{k};
    for (const auto& r : s) if (r.latest.count(k)) row.push_back(fmt("%.6g", r.latest.at(k)));
    if (row.size() == s.size() + 1) m.push_back(row);
  }
  std::cout << "\nfinal metrics\n";
  print_table(m);
}

// ---- rm ----------------------------------------------------------------------------

void cmd_rm(const std::string& run, const std::string& ws, bool yes) {
  const fs::path dir = resolve_run(run, ws);
  std::string what;
  try {
    // mark_interrupted=false: no point recording anything in a database about to go
    const RunSummary s = read_summary(dir, false);
    // the reader reports "running" only while the writer's process is alive
    if (s.status == "running")
      throw InvalidArgument("run '" + label(dir) + "' is running (a live `aha train` writes it); stop it before removing it");
    what = " (" + s.status + ", step " + std::to_string(s.last_step) + ")";
  } catch (const FormatError&) {
    what = " (its database is unreadable)";  // a corrupt run can still be removed
  }
  if (!yes)
    throw InvalidArgument("refusing to delete run '" + dir.string() + "'" + what +
                          " without confirmation; pass --yes to delete it and everything in it");
  std::error_code ec;
  const auto n = fs::remove_all(dir, ec);
  if (ec) throw IoError("cannot remove '" + dir.string() + "': " + ec.message());
  std::cout << "removed " << dir.string() << " (" << n << " files and directories)\n";
}

}  // namespace

// Prints a run's new steps (one line per step with its metrics) and events as another
// process writes them, until the run is no longer running.
void cmd_follow(const std::string& run, const std::string& ws, double interval_s, const std::vector<std::string>& keys) {
  const fs::path dir = resolve_run(run, ws);
  RunFollower follower(dir.string());
  for (;;) {
    RunFollower::Update u = follower.poll();
    std::map<std::pair<std::string, int64_t>, std::map<std::string, double>> steps;  // (stage, step) → metrics
    for (const auto& p : u.points) steps[{p.stage, p.step}][p.series] = p.value;
    for (const auto& [key, m] : steps) {
      std::string line = key.first + " step " + std::to_string(key.second);
      for (const auto& k : keys)
        if (auto it = m.find(k); it != m.end()) line += "  " + k + " " + fmt("%.5g", it->second);
      std::printf("%s\n", line.c_str());
    }
    for (const auto& e : u.events)
      std::printf("[%s] %s%s%s\n", local_time(e.wall, "%H:%M:%S").c_str(), e.kind.c_str(),
                  e.message.empty() ? "" : ": ", e.message.c_str());
    std::fflush(stdout);
    if (u.status != "running") {
      std::printf("run is %s\n", u.status.c_str());
      return;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
  }
}

void add_runs(CLI::App& app) {
  auto* runs = app.add_subcommand("runs", "Inspect the runs of a workspace");
  runs->require_subcommand(1);
  // One set of options for all subcommands: CLI11 keeps references, and only one runs.
  static std::string ws = "runs", run, format = "csv", out;
  static std::vector<std::string> many;
  static bool json_out = false, yes = false;
  auto workspace = [](CLI::App* c) {
    c->add_option("--workspace", ws, "Workspace folder holding the run directories")->capture_default_str();
  };
  auto* list = runs->add_subcommand("list", "One row per run: status, stage, step, created, loss, tags");
  workspace(list);
  list->add_flag("--json", json_out, "Print a JSON array");
  list->callback([] { cmd_list(ws, json_out); });

  auto* show = runs->add_subcommand("show", "A run's status, stages, checkpoints, latest metrics and events");
  show->add_option("run", run, "Run directory, or the name of one in the workspace")->required();
  workspace(show);
  show->add_flag("--json", json_out, "Print one JSON object");
  show->callback([] { cmd_show(run, ws, json_out); });

  auto* exp = runs->add_subcommand("export", "Write every metric series and the events as CSV files");
  exp->add_option("run", run, "Run directory, or the name of one in the workspace")->required();
  workspace(exp);
  exp->add_option("--format", format, "Output format (csv)")->capture_default_str();
  exp->add_option("--out", out, "Output folder (default RUN_DIR/export)");
  exp->callback([] { cmd_export(run, ws, format, out); });

  auto* cmp = runs->add_subcommand("compare", "Configuration differences and final metrics of runs side by side");
  cmp->add_option("runs", many, "Two or more runs (directories or names in the workspace)")->required();
  workspace(cmp);
  cmp->callback([] { cmd_compare(many, ws); });

  static double interval = 0.5;
  static std::vector<std::string> keys = {"loss", "eval_loss", "tokens_per_s"};
  auto* fol = runs->add_subcommand("follow", "Print a run's new steps and events live while another process trains it");
  fol->add_option("run", run, "Run directory, or the name of one in the workspace")->required();
  workspace(fol);
  fol->add_option("--interval", interval, "Seconds between polls")->check(CLI::PositiveNumber)->capture_default_str();
  fol->add_option("--metrics", keys, "Metrics to print on each step line")->capture_default_str();
  fol->callback([] { cmd_follow(run, ws, interval, keys); });

  auto* rm = runs->add_subcommand("rm", "Delete a run directory (asks for --yes; refuses a running run)");
  rm->add_option("run", run, "Run directory, or the name of one in the workspace")->required();
  workspace(rm);
  rm->add_flag("--yes", yes, "Really delete it");
  rm->callback([] { cmd_rm(run, ws, yes); });
}

}  // namespace aha::cli

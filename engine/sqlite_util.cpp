#include "engine/sqlite_util.h"

namespace aha::sql {

Db::Db(const std::string& path, int flags) : path_(path) {
  // Before SQLite initialises: no global memory-statistics mutex on every allocation
  // (it was 7% of the writer's time in `aha bench store`).
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError(path + ": cannot open database: " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Wait for another connection's lock (a reader marking a run interrupted, aha eval
  // appending results, a user's sqlite3) instead of failing; the run's writer treats any
  // error as fatal, so it waits long.
  sqlite3_busy_timeout(db_, 30000);
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    o.db_ = nullptr;
  }
  return *this;
}

Db::~Db() { sqlite3_close(db_); }

void Db::fail(const std::string& what) const {
  const int code = sqlite3_errcode(db_);
  const std::string msg = path_ + ": " + what + ": " + sqlite3_errmsg(db_);
  if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) throw FormatError(msg);
  throw IoError(msg);
}

void Db::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    fail("cannot run '" + sql.substr(0, 60) + "'");
  }
}

Stmt::Stmt(const Db& db, const char* sql) : db_(&db) {
  if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr) != SQLITE_OK)
    db.fail(std::string("cannot prepare '") + sql + "'");
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    st_ = o.st_;
    db_ = o.db_;
    o.st_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

bool Stmt::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(st_);
  db_->fail("statement failed");
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

}  // namespace aha::sql

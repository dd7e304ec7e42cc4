// The run store's schema and its migrations (internal to the store).
#pragma once
#include "engine/sqlite_util.h"

namespace aha::store {

// Reads PRAGMA user_version after checking the file is a SQLite database that passes a
// quick check. FormatError: not SQLite, corrupt, or newer than kStoreSchemaVersion.
int checked_version(const sql::Db& db, bool quick_check = true);
// Creates the current schema in an empty database.
void create_schema(const sql::Db& db);
// Brings an older database up to the current version, in one transaction.
void migrate(const sql::Db& db, int from_version);
// The version-1 schema, kept to test migrations (and as their documentation).
void create_schema_v1(const sql::Db& db);
// WAL mode, NORMAL sync (a process crash loses nothing committed), foreign keys.
void configure_writer(const sql::Db& db);

}  // namespace aha::store

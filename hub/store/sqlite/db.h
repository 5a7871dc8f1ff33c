// Thin RAII wrappers over sqlite3: a connection with a prepared-statement cache, and a statement
// that binds by position and steps. Private to hub/store/sqlite.
#ifndef ACCORD_HUB_STORE_SQLITE_DB_H_
#define ACCORD_HUB_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace accord::store::sqlite {

// Maps an SQLite result code to a status: constraint violations → ALREADY_EXISTS, busy/locked →
// UNAVAILABLE, corruption / not a database → DATA_LOSS, anything else → INTERNAL.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  ~Statement() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Positions start at 1, as in SQLite.
  Statement& Bind(int pos, absl::string_view v);
  Statement& Bind(int pos, int64_t v);
  Statement& BindNull(int pos);
  Statement& BindBlob(int pos, absl::string_view bytes);

  // Steps once: true when a row is ready, false when done, error otherwise.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  absl::Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  std::string Blob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens the file in WAL mode with foreign keys on and a busy timeout.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::filesystem::path& file, bool writable);
  ~Connection();

  // A cached prepared statement for `sql`; the cache is keyed by the text.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // Runs one or more statements that take no parameters.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement that takes no parameters, prepared once (for those run on every write).
  absl::Status Run(absl::string_view sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// BEGIN IMMEDIATE … COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Connection& conn);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace accord::store::sqlite

#endif  // ACCORD_HUB_STORE_SQLITE_DB_H_

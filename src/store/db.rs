//! The two database backends behind one small, synchronous API: SQLite
//! (rusqlite, the default: one file in the data dir) and PostgreSQL (the
//! sync `postgres` client, for several `serve` replicas sharing one
//! database, design note `replicas`).
//!
//! Every store function is written once, against [`Db`]: `execute`,
//! `query_row`, `query_opt`, `query_map`, and transactions through
//! [`Db::begin`]. SQL is written in SQLite's spelling with `?N`
//! placeholders; for PostgreSQL the placeholders become `$N` (translated
//! once per statement and cached with the prepared statement). Where the
//! two dialects really differ (scalar `MIN(a, b)` vs `LEAST(a, b)`,
//! `instr` vs `strpos`, `rowid`), the caller writes both spellings next to
//! each other with [`Db::pick`]. Everything else is kept to the common
//! subset both engines accept (`ON CONFLICT ... DO NOTHING` instead of
//! `INSERT OR IGNORE`, `IS NOT DISTINCT FROM` instead of `IS`,
//! `CASE WHEN .. THEN 1 ELSE 0 END` inside `SUM`, `RETURNING id` instead
//! of `last_insert_rowid()`).
//!
//! Values cross the boundary as [`Value`]: integers are 64-bit on both
//! sides (the PostgreSQL schema uses `BIGINT` throughout), and a value is
//! converted to whatever type PostgreSQL inferred for its placeholder
//! (`int4` for `substr`'s length, `bool` for `CASE WHEN ?5`), so the same
//! Rust arguments work for both. Rows come back owned ([`Row`]).
//!
//! Rejected: an async pool (deadpool / sqlx). serve runs every store call
//! on the blocking pool (`server::pool::StorePool`: one writing connection behind a
//! mutex and a few read-only ones, [`Db::set_read_only`]), and the admin
//! commands are synchronous; a sync client keeps one copy of each store
//! function for both backends.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;

use postgres::types::ToSql;

pub use super::value::*;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("query returned no rows")]
    NoRows,
    /// A write asked of a read-only connection ([`Db::set_read_only`]),
    /// refused before it reached the database: the caller runs the work
    /// again on a writing connection (`StorePool::read_or_write`).
    #[error("a write was asked of a read-only database connection; it must run on serve's writer")]
    NeedsWriter,
    #[error("column {index}: expected {expected}, found {found}")]
    Column {
        index: usize,
        expected: &'static str,
        found: String,
    },
}

/// A PostgreSQL error with the server's message and detail, which the
/// client's Display leaves out ("db error").
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{} ({detail})", d.message()),
            None => d.message().to_string(),
        },
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

impl DbError {
    /// A write refused because the connection is read only (either backend).
    pub fn is_read_only(&self) -> bool {
        match self {
            DbError::NeedsWriter => true,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ReadOnly
            }
            DbError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
            }
            _ => false,
        }
    }
}

/// `?N` placeholders (SQLite) as `$N` (PostgreSQL), outside string literals.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_str = !in_str;
                out.push(c);
            }
            '?' if !in_str => out.push('$'),
            c => out.push(c),
        }
    }
    out
}

/// The PostgreSQL side: a client and its prepared statements.
pub(crate) struct Pg {
    /// `None` only while the connection is being dropped ([`close`]).
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// For reconnecting after the server closed the connection (a
    /// PostgreSQL restart or failover): serve keeps one connection for its
    /// whole life.
    config: postgres::Config,
}

impl Pg {
    /// The client, reconnected first if the connection was lost outside
    /// a transaction (inside one, the error surfaces and the transaction
    /// is retried by its caller, never half-replayed on a new connection).
    fn client(&self, in_tx: bool) -> Result<std::cell::RefMut<'_, postgres::Client>, DbError> {
        let closed = self.client.borrow().as_ref().is_none_or(|c| c.is_closed());
        if !in_tx && closed {
            let fresh = self.config.connect(postgres::NoTls)?;
            if let Some(old) = self.client.borrow_mut().replace(fresh) {
                close(old);
            }
            self.statements.borrow_mut().clear();
            tracing::warn!("reconnected to PostgreSQL after the connection was lost");
        }
        // Some from connect to drop: only `Drop` takes it out.
        Ok(std::cell::RefMut::map(self.client.borrow_mut(), |c| {
            c.as_mut()
                .expect("a PostgreSQL connection is open until it is dropped")
        }))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(c) = self.client.get_mut().take() {
            close(c);
        }
    }
}

/// Closes a PostgreSQL connection. `postgres::Client` closes by blocking
/// on a runtime of its own, which panics on a thread that drives tokio
/// tasks: serve's last reference to its store can be dropped there when
/// it shuts down (SIGTERM, `systemctl stop`). On such a thread the client
/// is closed on a short-lived thread of its own.
fn close(client: postgres::Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::spawn(move || drop(client)).join();
    } else {
        drop(client);
    }
}

pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

/// An open database of either backend.
pub struct Db {
    pub(crate) conn: Conn,
    /// Open transactions (0 or 1: nested `begin`s join the outer one).
    depth: Cell<u32>,
    /// Set when a statement was refused because this connection is read
    /// only ([`Db::set_read_only`]): the caller may run its work again on
    /// a writing connection ([`Db::take_wanted_write`]).
    wanted_write: Cell<bool>,
    /// Set by [`Db::set_read_only`]. On SQLite a statement that would
    /// write (or a `BEGIN IMMEDIATE`, which takes the write lock) is then
    /// refused here, as [`DbError::NeedsWriter`], before SQLite sees it.
    read_only: Cell<bool>,
}

/// An open transaction: [`Tx::commit`] it, or it rolls back when dropped
/// (on an error path or a panic), so the connection is never left inside
/// a transaction.
pub struct Tx<'a> {
    db: &'a Db,
    /// False for a `begin` nested in another: the outer one decides.
    owner: bool,
    done: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<(), DbError> {
        self.done = true;
        if self.owner {
            // Still inside: a lost connection fails the commit rather
            // than reconnecting and "committing" nothing.
            let r = self.db.execute_batch("COMMIT");
            self.db.depth.set(0);
            r?;
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// Keeps the transaction open past this guard, for a caller that needs
    /// the store mutably inside it ([`super::Store::atomically_mut`]); that
    /// caller ends it with [`Db::end_open`], on every path.
    pub(crate) fn leave_open(mut self) {
        self.done = true;
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.owner && !self.done {
            let _ = self.db.execute_batch("ROLLBACK");
            self.db.depth.set(0);
        }
    }
}

impl Db {
    pub fn sqlite(conn: rusqlite::Connection) -> Db {
        conn.set_prepared_statement_cache_capacity(128);
        // The query planner's stability guarantee: a cached statement keeps
        // its plan. Without it SQLite re-plans a statement on every new
        // value bound to a parameter that an index might use (design note `fleet-scale`:
        // the heartbeat's "what is targeted at this group" was parsed and
        // planned again on every heartbeat, 60 % of its cost). Our plans
        // never depend on the values.
        let _ = conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        );
        Db {
            conn: Conn::Sqlite(conn),
            depth: Cell::new(0),
            wanted_write: Cell::new(false),
            read_only: Cell::new(false),
        }
    }

    pub fn postgres(client: postgres::Client, config: postgres::Config) -> Db {
        Db {
            conn: Conn::Postgres(Box::new(Pg {
                client: RefCell::new(Some(client)),
                statements: RefCell::new(HashMap::new()),
                config,
            })),
            depth: Cell::new(0),
            wanted_write: Cell::new(false),
            read_only: Cell::new(false),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == Backend::Postgres
    }

    /// The statement in this backend's spelling: the two are written next
    /// to each other at the call site.
    pub fn pick<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.conn {
            Conn::Sqlite(_) => sqlite,
            Conn::Postgres(_) => postgres,
        }
    }

    /// The rusqlite connection, for SQLite-only operations (pragmas).
    pub(crate) fn sqlite_conn(&self) -> Option<&rusqlite::Connection> {
        match &self.conn {
            Conn::Sqlite(c) => Some(c),
            Conn::Postgres(_) => None,
        }
    }

    /// Several statements without arguments (migrations, `BEGIN`).
    pub fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        let r = match &self.conn {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(DbError::from),
            Conn::Postgres(pg) => pg
                .client(self.in_transaction())
                .and_then(|mut c| Ok(c.batch_execute(sql)?)),
        };
        self.noted(r)
    }

    /// Starts a transaction (`BEGIN IMMEDIATE` on SQLite: the write lock
    /// up front, so a busy database makes it wait instead of failing
    /// half-way). A `begin` inside an open transaction joins it.
    pub fn begin(&self) -> Result<Tx<'_>, DbError> {
        if self.depth.get() > 0 {
            return Ok(Tx {
                db: self,
                owner: false,
                done: false,
            });
        }
        // Every transaction here is a write transaction: on a read-only
        // SQLite connection `BEGIN IMMEDIATE` would take the write lock
        // (query_only lets transaction control through) and wait behind
        // serve's writer, only for the first write inside to fail.
        if self.read_only.get() && !self.is_postgres() {
            return self.noted(Err(DbError::NeedsWriter));
        }
        self.execute_batch(self.pick("BEGIN IMMEDIATE", "BEGIN"))?;
        self.depth.set(1);
        Ok(Tx {
            db: self,
            owner: true,
            done: false,
        })
    }

    /// Ends the transaction a [`Tx::leave_open`] left open: COMMIT (rolled
    /// back when the commit fails, so the connection is never left inside a
    /// transaction) or ROLLBACK.
    pub(crate) fn end_open(&self, commit: bool) -> Result<(), DbError> {
        let r = self.execute_batch(if commit { "COMMIT" } else { "ROLLBACK" });
        if r.is_err() && commit {
            let _ = self.execute_batch("ROLLBACK");
        }
        self.depth.set(0);
        r
    }

    pub fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    /// Makes this connection read only: every statement that would write
    /// fails (SQLite `query_only`; PostgreSQL read-only transactions), and
    /// the failure is remembered for [`Db::take_wanted_write`]. Serve's
    /// read connections (design note `fleet-scale`): in WAL mode they read while another
    /// connection (serve's writer, or an admin command's import) holds the
    /// write lock.
    ///
    /// On SQLite a write is refused before it runs ([`DbError::NeedsWriter`],
    /// from `sqlite3_stmt_readonly`), so SQLite never reports "attempt to
    /// write a readonly database" for serve's own retried work (design note `key-holders`:
    /// each of those was logged as an internal error). `query_only` stays
    /// on as the backstop.
    pub fn set_read_only(&self) -> Result<(), DbError> {
        self.execute_batch(self.pick(
            "PRAGMA query_only = ON",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        ))?;
        self.read_only.set(true);
        Ok(())
    }

    /// Whether this connection refuses writes ([`Db::set_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only.get()
    }

    /// A prepared SQLite statement, refused as [`DbError::NeedsWriter`]
    /// when it would write on a read-only connection.
    fn sqlite_prepare<'c>(
        &self,
        c: &'c rusqlite::Connection,
        sql: &str,
    ) -> Result<rusqlite::CachedStatement<'c>, DbError> {
        let st = c.prepare_cached(sql)?;
        if self.read_only.get() && !st.readonly() {
            return Err(DbError::NeedsWriter);
        }
        Ok(st)
    }

    /// Whether a statement was refused as a write on this read-only
    /// connection since the last call (and clears it).
    pub fn take_wanted_write(&self) -> bool {
        self.wanted_write.replace(false)
    }

    /// Passes `r` through, remembering a refused write.
    fn noted<T>(&self, r: Result<T, DbError>) -> Result<T, DbError> {
        if let Err(e) = &r
            && e.is_read_only()
        {
            self.wanted_write.set(true);
        }
        r
    }

    fn pg_statement(&self, pg: &Pg, sql: &str) -> Result<postgres::Statement, DbError> {
        // Reconnecting clears the cache: check the connection first.
        drop(pg.client(self.in_transaction())?);
        if let Some(st) = pg.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = pg
            .client(self.in_transaction())?
            .prepare(&pg_placeholders(sql))?;
        let mut cache = pg.statements.borrow_mut();
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Runs `f` once more, on a new connection, when the first try found
    /// the connection closed (a PostgreSQL restart) outside a transaction:
    /// the statement never reached the server, so it is safe to repeat.
    fn pg_retry<T>(&self, mut f: impl FnMut() -> Result<T, DbError>) -> Result<T, DbError> {
        match f() {
            Err(DbError::Postgres(e)) if e.is_closed() && !self.in_transaction() => f(),
            r => r,
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, DbError> {
        let r = self.execute_inner(sql, params);
        self.noted(r)
    }

    fn execute_inner(&self, sql: &str, params: impl Params) -> Result<usize, DbError> {
        let values = params.values();
        match &self.conn {
            Conn::Sqlite(c) => Ok(self
                .sqlite_prepare(c, sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Conn::Postgres(pg) => {
                let refs: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                self.pg_retry(|| {
                    let st = self.pg_statement(pg, sql)?;
                    Ok(pg.client(self.in_transaction())?.execute(&st, &refs)? as usize)
                })
            }
        }
    }

    /// Every row of a query, each read with `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let r = self.query_map_inner(sql, params, f);
        self.noted(r)
    }

    fn query_map_inner<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let values = params.values();
        match &self.conn {
            Conn::Sqlite(c) => {
                let mut st = self.sqlite_prepare(c, sql)?;
                let n = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let row = Row((0..n)
                        .map(|i| r.get_ref(i).map(from_sqlite))
                        .collect::<Result<_, _>>()?);
                    out.push(f(&row)?);
                }
                Ok(out)
            }
            Conn::Postgres(pg) => {
                let refs: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let rows = self.pg_retry(|| {
                    let st = self.pg_statement(pg, sql)?;
                    Ok(pg.client(self.in_transaction())?.query(&st, &refs)?)
                })?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let row = Row((0..r.len())
                        .map(|i| r.try_get::<_, Value>(i))
                        .collect::<Result<_, _>>()?);
                    out.push(f(&row)?);
                }
                Ok(out)
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        // Both backends fetch the (small) result; only the first row is read.
        match self
            .query_map(sql, params, |r| Ok(r.clone()))?
            .into_iter()
            .next()
        {
            Some(row) => Ok(Some(f(&row)?)),
            None => Ok(None),
        }
    }

    /// The first row of a query; [`DbError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRows)
    }

    /// One value of the first row.
    pub fn query_one<T: FromValue>(&self, sql: &str, params: impl Params) -> Result<T, DbError> {
        self.query_row(sql, params, |r| r.get(0))
    }
}

/// A statement to run once or a few times, for code written in rusqlite's
/// shape (`prepare_cached(sql)?.query_row(..)`); it runs through the same
/// statement caches as [`Db::execute`].
pub struct Stmt<'a> {
    db: &'a Db,
    sql: String,
}

impl Stmt<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize, DbError> {
        self.db.execute(&self.sql, params)
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.db.query_row(&self.sql, params, f)
    }

    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<std::vec::IntoIter<Result<T, DbError>>, DbError> {
        let rows = self.db.query_map(&self.sql, params, f)?;
        Ok(rows.into_iter().map(Ok).collect::<Vec<_>>().into_iter())
    }
}

impl Db {
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>, DbError> {
        Ok(Stmt {
            db: self,
            sql: sql.to_string(),
        })
    }

    /// The same as [`Db::prepare`]: every statement is cached.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>, DbError> {
        self.prepare(sql)
    }
}

/// `query_row(..).optional()`: no row is `None`, as with rusqlite.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_strings() {
        assert_eq!(
            pg_placeholders("SELECT '?1' FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1' FROM t WHERE a = $1 AND b = $12"
        );
    }

    #[test]
    fn numeric_reads_as_integer() {
        // 1234567 = 123·10000 + 4567: ndigits 2, weight 1, sign +, dscale 0.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0, 123, 0x11, 0xD7];
        assert_eq!(numeric_to_i64(&raw).unwrap(), 1_234_567);
        // 20000 = 2·10000^1, the zero group implied: ndigits 1, weight 1.
        let raw = [0, 1, 0, 1, 0, 0, 0, 0, 0, 2];
        assert_eq!(numeric_to_i64(&raw).unwrap(), 20_000);
        let neg = [0, 1, 0, 0, 0x40, 0, 0, 0, 0, 7];
        assert_eq!(numeric_to_i64(&neg).unwrap(), -7);
    }
}

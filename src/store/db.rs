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
//! on the blocking pool (`server::Db`: one writing connection behind a
//! mutex and a few read-only ones, [`Db::set_read_only`]), and the admin
//! commands are synchronous; a sync client keeps one copy of each store
//! function for both backends.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

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
    /// again on a writing connection (`server::Db::read_or_write`).
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
    /// A unique-constraint violation (either backend).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

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

/// One value passed to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
}

/// Something that can be bound to a placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// The arguments of one statement: an array of one type (`[id]`,
/// `[a, b]`), `()` for none, or [`params!`] for mixed types.
pub trait Params {
    fn values(&self) -> Vec<Value>;
}

impl Params for () {
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl Params for Vec<Value> {
    fn values(&self) -> Vec<Value> {
        self.clone()
    }
}

/// Mixed-type arguments: `params![id, 3, Some(x)]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        [$(&$v as &dyn $crate::store::db::ToValue),*]
    };
}
pub(crate) use params;

/// Something a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, &'static str>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Int(n) => Ok(*n),
            Value::Bool(b) => Ok(*b as i64),
            _ => Err("an integer"),
        }
    }
}

macro_rules! narrow_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, &'static str> {
                <$t>::try_from(i64::from_value(v)?).map_err(|_| concat!("an integer fitting ", stringify!($t)))
            }
        }
    )*};
}
narrow_from_value!(i32, u32, u16, u8);

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Int(n) => Ok(*n != 0),
            _ => Err("a boolean"),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Real(x) => Ok(*x),
            Value::Int(n) => Ok(*n as f64),
            _ => Err("a number"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err("text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err("a blob"),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        Ok(v.clone())
    }
}

/// A column position (like rusqlite's, so `r.get::<_, T>(i)` reads the same).
pub trait RowIndex {
    fn index(&self) -> usize;
}

impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One result row, owned.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> Result<T, DbError> {
        let index = i.index();
        let v = self.0.get(index).ok_or(DbError::Column {
            index,
            expected: "a column",
            found: format!("{} columns", self.0.len()),
        })?;
        T::from_value(v).map_err(|expected| DbError::Column {
            index,
            expected,
            found: format!("{v:?}"),
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Real(x) => ToSqlOutput::Borrowed(ValueRef::Real(*x)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(*b as i64)),
        })
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

/// Binds a value as the type PostgreSQL inferred for its placeholder.
impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let int = |n: i64, out: &mut bytes::BytesMut| -> Result<IsNull, BoxError> {
            match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
                Type::BOOL => (n != 0).to_sql(ty, out),
                Type::FLOAT8 => (n as f64).to_sql(ty, out),
                Type::NUMERIC => Err(format!("cannot bind {n} as numeric; cast it").into()),
                _ => n.to_string().to_sql(&Type::TEXT, out),
            }
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => int(*n, out),
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => int(*b as i64, out),
            },
            Value::Real(x) => match *ty {
                Type::FLOAT4 => (*x as f32).to_sql(ty, out),
                _ => x.to_sql(&Type::FLOAT8, out),
            },
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                Type::INT8 | Type::INT4 | Type::INT2 => int(
                    s.parse().map_err(|_| format!("{s:?} is not an integer"))?,
                    out,
                ),
                _ => s.as_str().to_sql(&Type::TEXT, out),
            },
            Value::Blob(b) => b.as_slice().to_sql(&Type::BYTEA, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Reads any column the store uses, by its PostgreSQL type.
impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        Ok(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)? as i64),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)? as f64),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            // SUM(bigint) is numeric in PostgreSQL; the store only sums
            // integers, so read it back as one.
            Type::NUMERIC => Value::Int(numeric_to_i64(raw)?),
            _ => Value::Text(String::from_sql(&Type::TEXT, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary numeric (base-10000 digits) as an i64, refusing
/// fractions and values out of range.
fn numeric_to_i64(raw: &[u8]) -> Result<i64, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(i..i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short numeric".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    if sign == 0xC000 {
        return Err("NaN is not an integer".into());
    }
    let mut n: i128 = 0;
    for i in 0..ndigits {
        let d = word(8 + 2 * i)? as i128;
        let exp = weight - i as i32;
        if exp < 0 {
            if d != 0 {
                return Err("numeric with a fraction".into());
            }
            continue;
        }
        n = n
            .checked_add(d * 10_000i128.pow(exp as u32))
            .ok_or("numeric too large")?;
    }
    let n = if sign == 0x4000 { -n } else { n };
    Ok(i64::try_from(n)?)
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
    client: RefCell<postgres::Client>,
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
        if !in_tx && self.client.borrow().is_closed() {
            let fresh = self.config.connect(postgres::NoTls)?;
            *self.client.borrow_mut() = fresh;
            self.statements.borrow_mut().clear();
            tracing::warn!("reconnected to PostgreSQL after the connection was lost");
        }
        Ok(self.client.borrow_mut())
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
                client: RefCell::new(client),
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

//! The database pool request handlers share: one writing connection and
//! a few read-only ones, each call on the blocking pool, with a bound on
//! calls in flight (see [`StorePool`]).

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;
use crate::wire::http::{ApiError, RETRY_AFTER_SECS};
use crate::wire::proto::ErrorCode;

/// The database, shared by request handlers: one writing connection and a
/// few read-only ones.
///
/// Writes ([`StorePool::call`]) go through the one writer, behind a mutex:
/// SQLite serializes writers anyway. Reads ([`StorePool::read`]) take one of the
/// read connections ([`READERS`]): in WAL mode they read the last
/// committed state while the write lock is held, by serve's writer or by
/// an admin command in another process (a `topology import` holds it for
/// seconds), so reads never queue behind a write transaction (design note `fleet-scale`).
/// [`StorePool::read_or_write`] runs work that usually only reads on a reader and,
/// only when it turns out to need a write, again on the writer.
///
/// Backpressure: at most [`DB_IN_FLIGHT`] writing calls and as many reading
/// calls hold a place at once (the two are counted apart, so writers
/// waiting on a lock held elsewhere never starve the readers); a call that
/// cannot get a place within [`DB_QUEUE_WAIT`] is refused with
/// `overloaded` (503 and `Retry-After`), so that under overload requests
/// are shed early instead of piling up hundreds of blocking threads.
#[derive(Clone)]
pub struct StorePool {
    store: Arc<Mutex<Store>>,
    permits: Arc<tokio::sync::Semaphore>,
    readers: Arc<Mutex<Vec<Store>>>,
    /// One permit per idle reader.
    idle_readers: Arc<tokio::sync::Semaphore>,
    read_permits: Arc<tokio::sync::Semaphore>,
    /// How many readers there are (0: reads run on the writer).
    reader_count: usize,
    queue_wait: Duration,
}

/// Database calls allowed in flight (running or waiting on the mutex).
pub const DB_IN_FLIGHT: usize = 64;

/// Read connections serve opens next to its writer.
pub const READERS: usize = 3;

/// How long a call may wait for a permit before it is refused.
pub const DB_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Page cache of serve's database connection, MiB: room for the device
/// and progress indexes of 100,000 devices (design note `fleet-scale`), well within the
/// 512 MiB the server may use at that size.
pub const SERVE_CACHE_MIB: u32 = 96;

/// Page cache of each read connection, MiB.
pub const READER_CACHE_MIB: u32 = 48;

impl StorePool {
    pub fn new(store: Store) -> StorePool {
        StorePool::with_limits(store, DB_IN_FLIGHT, DB_QUEUE_WAIT)
    }

    /// A handle with its own in-flight bound and queue wait (tests use a
    /// bound of 1 to provoke overload). Without readers
    /// ([`StorePool::with_readers`]) reads run on the writer.
    pub fn with_limits(store: Store, in_flight: usize, queue_wait: Duration) -> StorePool {
        StorePool {
            store: Arc::new(Mutex::new(store)),
            permits: Arc::new(tokio::sync::Semaphore::new(in_flight.max(1))),
            readers: Arc::new(Mutex::new(Vec::new())),
            idle_readers: Arc::new(tokio::sync::Semaphore::new(0)),
            read_permits: Arc::new(tokio::sync::Semaphore::new(in_flight.max(1))),
            reader_count: 0,
            queue_wait,
        }
    }

    /// Adds read-only connections ([`Store::open_reader`]) for [`StorePool::read`].
    pub fn with_readers(mut self, readers: Vec<Store>) -> StorePool {
        let n = readers.len();
        self.readers.lock().extend(readers);
        self.idle_readers.add_permits(n);
        self.reader_count += n;
        self
    }

    /// Runs `f` with the writing store on the blocking pool, or refuses
    /// with `overloaded` when too many calls are already in flight.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.queue_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| overloaded())?
            .map_err(ApiError::internal)?;
        let db = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut st = db.lock();
            f(&mut st)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f`, which only reads, on a read connection (on the writer
    /// when there is none). A write attempted by `f` fails.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self.on_reader(no_writes(f)).await? {
            Ok(out) => out,
            Err(f) => self.call(f).await,
        }
    }

    /// A short read (a few indexed lookups, like a heartbeat's answer):
    /// when a SQLite reader is idle right now, runs `f` here on the
    /// runtime thread, which saves the blocking pool's two thread hand-offs
    /// (at 10,000 heartbeats/s they cost more than the lookups). Otherwise,
    /// and always on PostgreSQL (a network round trip), as [`StorePool::read`].
    pub async fn read_quick<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self.try_inline(no_writes(f)) {
            Ok(out) => out,
            Err(f) => self.read(f).await,
        }
    }

    /// Runs `f` here on a SQLite reader that is idle right now; `Err(f)`
    /// back when there is none (or the readers are PostgreSQL's).
    fn try_inline<T, F: FnOnce(&mut Store) -> Result<T, ApiError>>(
        &self,
        f: F,
    ) -> Result<Result<T, ApiError>, F> {
        let Ok(idle) = self.idle_readers.try_acquire() else {
            return Err(f);
        };
        let mut readers = self.readers.lock();
        let local = readers
            .last()
            .is_some_and(|st| st.backend() == crate::store::Backend::Sqlite);
        let Some(mut st) = local.then(|| readers.pop()).flatten() else {
            return Err(f);
        };
        drop(readers);
        st.take_wanted_write();
        let out = f(&mut st);
        self.readers.lock().push(st);
        drop(idle);
        Ok(out)
    }

    /// Runs `f` on a read connection; when `f` turns out to need a write
    /// (a statement was refused as one), runs it again from the start on
    /// the writer. For work that usually only reads, like `/sources`,
    /// which writes only when a leader or a decision changes. `f` must
    /// tolerate being run twice (its reads are repeated; nothing was
    /// written the first time).
    pub async fn read_or_write<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Store) -> Result<T, ApiError> + Send + Sync + 'static,
    ) -> Result<T, ApiError> {
        let f = Arc::new(f);
        let again = f.clone();
        let read = move |st: &mut Store| {
            let out = f(st);
            let wanted = out.is_err() && st.take_wanted_write();
            Ok((out, wanted))
        };
        // Here when a SQLite reader is idle (see `read_quick`: the work is
        // the same, without two thread hand-offs), else on the pool.
        let read = match self.try_inline(read) {
            Ok(r) => Ok(r),
            Err(read) => self.on_reader(read).await?,
        };
        let (out, wanted_write) = match read {
            Ok(r) => r?,
            Err(_) => return self.call(move |st| again(st)).await,
        };
        if wanted_write {
            return self.call(move |st| again(st)).await;
        }
        out
    }

    /// `Ok(result)` from a reader, or `Err(f)` back when there are no
    /// readers.
    async fn on_reader<T: Send + 'static, F>(
        &self,
        f: F,
    ) -> Result<Result<Result<T, ApiError>, F>, ApiError>
    where
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    {
        if self.reader_count == 0 {
            return Ok(Err(f));
        }
        let deadline = tokio::time::Instant::now() + self.queue_wait;
        let permit = tokio::time::timeout_at(deadline, self.read_permits.clone().acquire_owned())
            .await
            .map_err(|_| overloaded())?
            .map_err(ApiError::internal)?;
        let idle = tokio::time::timeout_at(deadline, self.idle_readers.clone().acquire_owned())
            .await
            .map_err(|_| overloaded())?
            .map_err(ApiError::internal)?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let (_permit, _idle) = (permit, idle);
            let mut st = readers
                .lock()
                .pop()
                .expect("an idle reader for every idle permit");
            st.take_wanted_write();
            let out = f(&mut st);
            readers.lock().push(st);
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)?
        .map(Ok)
    }
}

/// `f` for [`StorePool::read`]: a write it asks of a reader is refused without
/// a log line of its own (`read_or_write` retries those), so it is logged
/// here, where nothing retries it.
fn no_writes<T>(
    f: impl FnOnce(&mut Store) -> Result<T, ApiError>,
) -> impl FnOnce(&mut Store) -> Result<T, ApiError> {
    move |st| {
        let out = f(st);
        if out.is_err() && st.take_wanted_write() {
            tracing::error!(
                "a read-only database call tried to write; it must use StorePool::call"
            );
        }
        out
    }
}

pub(super) fn overloaded() -> ApiError {
    overloaded_because(&format!("{DB_IN_FLIGHT} database calls in flight"))
}

/// `overloaded` (503 and `Retry-After`), saying why.
pub(super) fn overloaded_because(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Overloaded,
        format!("the server is overloaded ({why}); retry after {RETRY_AFTER_SECS} s"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    /// Design note `fleet-scale`: with every permit taken, a call is refused with
    /// `overloaded`, 503 and `Retry-After`, instead of queueing without end.
    #[tokio::test]
    async fn a_full_queue_answers_overloaded_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let db = StorePool::with_limits(store, 1, Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // Told when the busy call holds the one permit.
        let holding = Arc::new(tokio::sync::Notify::new());
        let busy = {
            let (db, holding) = (db.clone(), holding.clone());
            tokio::spawn(async move {
                db.call(move |_| {
                    holding.notify_one();
                    rx.recv().ok();
                    Ok(())
                })
                .await
            })
        };
        holding.notified().await;
        let e = db.call(|_| Ok(())).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Overloaded);
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers()[header::RETRY_AFTER],
            RETRY_AFTER_SECS.to_string()
        );
        tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        db.call(|_| Ok(())).await.unwrap();
    }

    /// Design note `fleet-scale`: while a writing call waits for a write lock held by
    /// another process (an admin command's import), reads on the read
    /// connections go on, and see the last committed state.
    #[tokio::test]
    async fn reads_go_on_while_the_writer_waits_for_a_lock_held_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        store.init_server("s", "fp", &[]).unwrap();
        let readers = vec![Store::open_reader(dir.path(), None).unwrap()];
        let db = StorePool::new(store).with_readers(readers);
        // Another process's write transaction, holding the lock.
        let other = rusqlite::Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO settings (name, value) VALUES ('x', '1');")
            .unwrap();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let write = {
            let db = db.clone();
            tokio::spawn(async move {
                db.call(move |st| {
                    started_tx.send(()).ok();
                    st.set_setting("y", "2")?;
                    Ok(())
                })
                .await
            })
        };
        started.await.unwrap();
        // The writer is waiting for the lock; a read does not wait for it.
        let (x, device_count) = db
            .read(|st| Ok((st.setting("x")?, st.device_count()?)))
            .await
            .unwrap();
        assert_eq!(
            (x, device_count),
            (None, 0),
            "uncommitted rows are not seen"
        );
        assert!(!write.is_finished(), "the write did not wait for the lock");
        other.execute_batch("COMMIT").unwrap();
        write.await.unwrap().unwrap();
        let (x, y) = db
            .read(|st| Ok((st.setting("x")?, st.setting("y")?)))
            .await
            .unwrap();
        assert_eq!((x.as_deref(), y.as_deref()), (Some("1"), Some("2")));
    }

    /// A read connection refuses writes; `read_or_write` then runs the
    /// work again on the writer, and the write lands once.
    #[tokio::test]
    async fn work_that_turns_out_to_write_runs_again_on_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let reader = Store::open_reader(dir.path(), None).unwrap();
        let e = reader.set_setting("z", "1").unwrap_err();
        assert!(e.needs_writer(), "{e}");
        assert!(reader.take_wanted_write());
        assert!(!reader.take_wanted_write(), "the flag is cleared");
        let db = StorePool::new(store).with_readers(vec![reader]);
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        db.read_or_write(move |st| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            st.set_setting("z", "1")?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        let z = db.read(|st| Ok(st.setting("z")?)).await.unwrap();
        assert_eq!(z.as_deref(), Some("1"));
        // Work that only reads runs once, on the reader.
        let before = runs.load(std::sync::atomic::Ordering::SeqCst);
        let counted = runs.clone();
        db.read_or_write(move |st| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(st.setting("z")?)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), before + 1);
    }
}

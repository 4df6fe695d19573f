"""A SQLite journal of every evaluation of an external program.

One row per point x, keyed by the exact float64 bytes of x, so a resumed
deterministic fit asks for the same keys and is answered from the journal
instead of re-running the program. Rows go ``running`` (`Journal.start`) ->
``ok`` or ``failed`` (`Journal.finish`); each step is its own committed
transaction.

Durability: a SIGKILL at any moment loses no finished run. The database is in
WAL mode; a transaction is committed once its commit record has been written
to the ``-wal`` file, and that write is in the operating system's page cache
before `finish` returns, so it survives the death of the process however it
dies; the next connection replays (or ignores an incomplete tail of) the WAL.
``synchronous=NORMAL`` would already give that. We use ``synchronous=FULL``,
which also fsyncs the WAL at every commit, so a finished run also survives an
OS crash or power loss of the machine: an fsync is a millisecond or so, next
to an external program run it is nothing, and a lost run can cost hours.

Concurrency: every process (and every `Journal` object) has its own
connection; writers queue on SQLite's lock with a 30 s busy timeout, readers
never block. WAL needs shared memory, so all processes must be on one machine
(not on NFS from several hosts). A `Journal` must not be used across
``fork()``: a child gets an error and should open its own; pickling a
`Journal` pickles only its path, and the copy opens its own connection.
"""
import json
import os
import sqlite3
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Journal", "Record", "SCHEMA_VERSION", "key_of"]

#: ``PRAGMA user_version`` of the schema this module writes.
SCHEMA_VERSION = 1
#: Seconds a writer waits for another process's write lock.
BUSY_TIMEOUT = 30.0
STATUSES = ("ok", "failed", "running")
_FINISHED = ("ok", "failed")
#: Connections inherited through fork: kept referenced, never closed in the
#: child (closing would disturb SQLite's per-process lock bookkeeping).
_ABANDONED = []
_COLUMNS = ("id, key, x, n, purpose, status, reason, outputs, residuals, "
            "started, finished, worker, run_dir")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    id        INTEGER PRIMARY KEY,
    key       TEXT UNIQUE NOT NULL,
    x         BLOB NOT NULL,
    n         INTEGER NOT NULL,
    purpose   TEXT,
    status    TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'running')),
    reason    TEXT,
    outputs   TEXT,
    residuals BLOB,
    started   REAL,
    finished  REAL,
    worker    TEXT,
    run_dir   TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
"""


def _as_f8(x):
    """``x`` as a flat little-endian float64 array."""
    return np.ascontiguousarray(np.asarray(x, dtype="<f8").ravel())


def key_of(x):
    """The journal key of x: hex of its exact float64 bytes."""
    return _as_f8(x).tobytes().hex()


def _to_json(obj):
    """JSON text of ``obj``; numpy scalars and arrays become numbers and lists."""
    def default(value):
        if isinstance(value, (np.ndarray, np.generic)):
            return value.tolist()
        raise TypeError(f"journal outputs must be JSON data; got {type(value).__name__}")
    return json.dumps(obj, sort_keys=True, default=default)


def _from_blob(blob):
    return None if blob is None else np.frombuffer(blob, dtype="<f8").astype(float)


@dataclass(frozen=True)
class Record:
    """One journaled evaluation (arrays are float64 copies, bit-exact)."""

    id: int
    key: str
    x: np.ndarray
    n: int
    purpose: str | None
    status: str
    reason: str | None
    outputs: dict | None
    residuals: np.ndarray | None
    started: float | None
    finished: float | None
    worker: str | None
    run_dir: str | None

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def seconds(self):
        """Wall time from start to finish, None if either is unknown."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    @classmethod
    def from_row(cls, row):
        (id_, key, x, n, purpose, status, reason, outputs, residuals,
         started, finished, worker, run_dir) = row
        return cls(id=id_, key=key, x=_from_blob(x), n=n, purpose=purpose,
                   status=status, reason=reason,
                   outputs=None if outputs is None else json.loads(outputs),
                   residuals=_from_blob(residuals), started=started,
                   finished=finished, worker=worker, run_dir=run_dir)


def _retry_busy(func, timeout=BUSY_TIMEOUT):
    """Call ``func()``, retrying while SQLite reports the database locked.

    Switching a new file to WAL mode can fail with SQLITE_BUSY at once,
    without waiting on the busy timeout, when several processes create the
    journal at the same moment; the busy timeout covers everything else.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return func()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(2 * delay, 0.2)


class Journal:
    """The evaluation journal at ``path`` (created if missing).

    Use as a context manager or call `close`. Thread-safe within a process;
    across processes, open one `Journal` per process.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"journal directory does not exist: {self.path.parent}")
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT,
                                     isolation_level=None, check_same_thread=False)
        try:
            _retry_busy(self._configure)
            _retry_busy(self._ensure_schema)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # -- opening -----------------------------------------------------------------
    def _configure(self):
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":  # a new file (switching needs the exclusive lock)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            warnings.warn(f"{self.path}: SQLite could not use WAL mode (got {mode!r}); "
                          "the journal works but concurrent writers wait longer",
                          RuntimeWarning, stacklevel=3)
        conn.execute("PRAGMA synchronous = FULL")

    def _ensure_schema(self):
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: journal schema version {version} is newer "
                               f"than this lsqbox supports ({SCHEMA_VERSION}); upgrade lsqbox")
        with self._transaction() as conn:  # re-check under the write lock
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: unknown journal schema version {version}")

    # -- plumbing ----------------------------------------------------------------
    def _connection(self):
        if self._conn is None:
            raise ValueError(f"journal {self.path} is closed")
        if os.getpid() != self._pid:
            raise RuntimeError(f"journal {self.path} was opened in process {self._pid} and "
                               f"cannot be used after fork (in {os.getpid()}); open a new "
                               "Journal in this process")
        return self._conn

    @contextmanager
    def _transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error), under the lock."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _query(self, sql, params=()):
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    # -- evaluations ---------------------------------------------------------------
    def lookup(self, x):
        """The finished (ok or failed) `Record` of exactly this x, else None."""
        rows = self._query(f"SELECT {_COLUMNS} FROM evaluations "
                           "WHERE key = ? AND status IN ('ok', 'failed')", (key_of(x),))
        return Record.from_row(rows[0]) if rows else None

    def get(self, x):
        """The `Record` of exactly this x in any status, else None."""
        rows = self._query(f"SELECT {_COLUMNS} FROM evaluations WHERE key = ?", (key_of(x),))
        return Record.from_row(rows[0]) if rows else None

    def start(self, x, purpose=None, worker=None, *, replace=False):
        """Mark x as running (committed); its record id.

        A running record of x (e.g. left by a killed process) is taken over,
        keeping its id. A finished record is left as it is unless ``replace``
        (then it is reset to running): `finish` overwrites it anyway, and
        meanwhile a concurrent evaluator's result stays available.
        """
        xa = _as_f8(x)
        key = xa.tobytes().hex()
        with self._transaction() as conn:
            row = conn.execute("SELECT id, status FROM evaluations WHERE key = ?",
                               (key,)).fetchone()
            if row is None:
                return conn.execute(
                    "INSERT INTO evaluations (key, x, n, purpose, status, started, worker) "
                    "VALUES (?, ?, ?, ?, 'running', ?, ?)",
                    (key, xa.tobytes(), xa.size, purpose, time.time(), worker)).lastrowid
            if row[1] == "running" or replace:
                conn.execute(
                    "UPDATE evaluations SET purpose = ?, status = 'running', reason = NULL, "
                    "outputs = NULL, residuals = NULL, started = ?, finished = NULL, "
                    "worker = ?, run_dir = NULL WHERE id = ?",
                    (purpose, time.time(), worker, row[0]))
            return row[0]

    def finish(self, x, status, reason="", outputs=None, residuals=None, run_dir=None,
               *, worker=None, purpose=None):
        """Record the result of x (committed before returning); its record id.

        status: 'ok' or 'failed'. outputs: a JSON-serialisable dict (numpy
        scalars and arrays are converted to numbers and lists).
        residuals: array or None (stored as exact float64 bytes).
        Updates the record `start` made; without one, a record is inserted
        (with ``worker``/``purpose`` if given, and no start time).
        """
        if status not in _FINISHED:
            raise ValueError(f"finish status must be 'ok' or 'failed', got {status!r}")
        xa = _as_f8(x)
        key = xa.tobytes().hex()
        values = {"status": status, "reason": reason,
                  "outputs": None if outputs is None else _to_json(outputs),
                  "residuals": None if residuals is None else _as_f8(residuals).tobytes(),
                  "finished": time.time(),
                  "run_dir": None if run_dir is None else str(run_dir)}
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM evaluations WHERE key = ?", (key,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO evaluations (key, x, n, purpose, status, reason, outputs, "
                    "residuals, finished, worker, run_dir) VALUES (:key, :x, :n, :purpose, "
                    ":status, :reason, :outputs, :residuals, :finished, :worker, :run_dir)",
                    dict(values, key=key, x=xa.tobytes(), n=xa.size,
                         purpose=purpose, worker=worker))
                return cur.lastrowid
            assignments = ", ".join(f"{name} = :{name}" for name in values)
            if worker is not None:
                assignments += ", worker = :worker"
            conn.execute(f"UPDATE evaluations SET {assignments} WHERE id = :id",
                         dict(values, id=row[0], worker=worker))
            return row[0]

    def records(self, status=None, batch=500):
        """All `Record`s in id order (only those with ``status`` if given).

        Reads in batches, so no read transaction stays open between yields.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        where = "" if status is None else "AND status = ?"
        last = -1
        while True:
            params = (last,) + (() if status is None else (status,)) + (batch,)
            rows = self._query(f"SELECT {_COLUMNS} FROM evaluations WHERE id > ? "
                               f"{where} ORDER BY id LIMIT ?", params)
            for row in rows:
                yield Record.from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def counts(self):
        """``{'ok': n, 'failed': n, 'running': n}``."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self._query(
                "SELECT status, COUNT(*) FROM evaluations GROUP BY status"):
            counts[status] = count
        return counts

    def __len__(self):
        return self._query("SELECT COUNT(*) FROM evaluations")[0][0]

    # -- meta ----------------------------------------------------------------------
    def set_meta(self, key, value):
        """Store a text value (e.g. the job hash) under ``key`` (committed)."""
        if not isinstance(value, str):
            raise TypeError(f"meta values are text; got {type(value).__name__} for {key!r}")
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (str(key), value))

    def get_meta(self, key, default=None):
        """The text stored under ``key``, else ``default``."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (str(key),))
        return rows[0][0] if rows else default

    # -- lifetime ------------------------------------------------------------------
    def close(self):
        """Close the connection (idempotent; not from a forked child)."""
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            elif self._conn is not None:
                _ABANDONED.append(self._conn)
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        return (Journal, (str(self.path),))

    def __repr__(self):
        state = "closed" if self._conn is None else "open"
        return f"Journal({str(self.path)!r}, {state})"

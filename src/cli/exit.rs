//! Exit codes shared by every command, documented in `man p2pd`.

/// What a script or cron job can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// Everything worked (`health`: the system is healthy).
    Ok = 0,
    /// The operation failed, or part of it did (`publish`: a package failed;
    /// `health`: a check failed).
    Failed = 1,
    /// Bad usage or the command could not run at all (bad arguments, not
    /// installed, `health` could not read the database).
    Usage = 2,
    /// Another process holds the lock (`publish` already running).
    Busy = 3,
    /// The shared key does not match the server's current key.
    KeyMismatch = 4,
    /// Done, with warnings a script should notice (`publish --all`: a
    /// published package is missing from file storage). Distinct from 1 so
    /// that cron can tell "look at this" from "it failed".
    Warnings = 5,
}

/// The table printed in `man p2pd`, kept next to the enum it documents.
pub const TABLE: &[(i32, &str)] = &[
    (0, "success; for health, the system is healthy"),
    (
        1,
        "the operation failed or partly failed (a package failed to publish, a health check failed, \
         including the server being unreachable)",
    ),
    (
        2,
        "usage error, or the command could not run (not installed; for health, the database cannot be read)",
    ),
    (
        3,
        "busy: another p2pd publish holds the lock; try again later",
    ),
    (
        4,
        "key mismatch: the shared key is not the server's current key",
    ),
    (
        5,
        "done, with warnings: for publish, every package was published or unchanged, but a \
         published package is missing from file storage (put it back, or withdraw it with \
         p2pd publish --all --prune)",
    ),
];

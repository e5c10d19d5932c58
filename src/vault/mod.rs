//! Secrets sealed in the database: the database key that seals the shared
//! key and the CA's private key in a shared (PostgreSQL) database, and the
//! server CA at rest there, for `serve` replicas.
//!
//! May use: store trust

pub mod dbkey;
pub mod server_ca;

//! What crosses the network: the wire types and error codes ([`proto`]),
//! signed requests and JSON errors on both sides ([`http`]), and the
//! listener both HTTP servers run ([`listen`]: TLS, header-read and idle
//! timeouts, connection caps).
//!
//! May use: domain store trust

pub mod http;
pub mod listen;
pub mod proto;

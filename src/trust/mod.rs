//! Who may talk: the shared key that admits a device, the replay counters
//! that make a signed request count once, and the TLS identities (the
//! server CA, the certificates it issues, the rustls configurations and the
//! identity a certificate names).
//!
//! May use: domain platform

pub mod key;
pub mod replay;
pub mod tls;

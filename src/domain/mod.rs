//! The bottom layer: the domain nouns every other module shares, with no
//! dependency inside the crate (only std, serde and hex).
//!
//! - [`ids`]: [`ContentId`] and [`PieceHash`], SHA-256 digests held as
//!   32 bytes; hex exists only in `Display`, `FromStr` and serde.
//! - [`bitmap`]: [`Bitmap`], the have-map of a content's pieces.
//! - [`office`]: [`OfficeKind`], what an office's network is.
//! - [`content`]: a content's reference and manifest.
//! - [`clock`]: the wall clock every module reads, settable in tests.
//! - [`settings`]: the server settings, their defaults and validation.
//! - [`cells`]: spreadsheet cells p2pd writes and reads back (formula
//!   neutralising, shared by every CSV export and the importer).
//! - [`words`]: counting in sentences ("1 device", "3 packages").
//!
//! May use: (nothing else in the crate)

pub mod bitmap;
pub mod cells;
pub mod clock;
pub mod content;
pub mod ids;
pub mod office;
pub mod settings;
pub mod words;

pub use bitmap::Bitmap;
pub use ids::{ContentId, DeviceId, PieceHash};
pub use office::OfficeKind;

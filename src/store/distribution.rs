//! SQL for distribution.

use super::Store;

impl Store {}

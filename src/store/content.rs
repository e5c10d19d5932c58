//! SQL for content.

use super::Store;

impl Store {}

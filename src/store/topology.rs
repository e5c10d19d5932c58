//! SQL for topology.

use super::Store;

impl Store {}

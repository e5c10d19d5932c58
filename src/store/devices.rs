//! SQL for devices.

use super::Store;

impl Store {}

//! SQL for topology (temporary minimal version).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

impl Store {
    pub fn all_ranges(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT office_id, spec FROM office_ranges")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn ensure_auto_office(&self, subnet: &str) -> Result<i64, StoreError> {
        let root: i64 = match self
            .conn
            .query_row("SELECT id FROM offices WHERE parent_id IS NULL", [], |r| {
                r.get(0)
            })
            .optional()?
        {
            Some(id) => id,
            None => {
                self.conn.execute(
                    "INSERT INTO offices (name, type, source) VALUES ('Central Office', 'default', 'auto')",
                    [],
                )?;
                self.conn.last_insert_rowid()
            }
        };
        let name = format!("auto {subnet}");
        if let Some(id) = self
            .conn
            .query_row("SELECT id FROM offices WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .optional()?
        {
            return Ok(id);
        }
        self.conn.execute(
            "INSERT INTO offices (name, parent_id, type, source) VALUES (?1, ?2, 'default', 'auto')",
            params![name, root],
        )?;
        let id = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO office_ranges (office_id, spec, position) VALUES (?1, ?2, 0)",
            params![id, subnet],
        )?;
        Ok(id)
    }
}

//! The connection pool's connections, each with its own cache of prepared
//! statements. A query sent as text is prepared and then executed: two
//! round trips, and a fresh plan, every time. The hot paths (a device's
//! token, its last-seen time, the feed window, a record, a record's
//! commit) run through statements prepared once per connection instead:
//! one round trip each. The cache holds only the SQL the code itself
//! writes, so it stays small; it is bounded all the same.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;

/// Statements a connection keeps prepared at most.
const MAX_STATEMENTS: usize = 64;

/// A pooled connection and its prepared statements.
pub(super) struct Connection {
    pub(super) client: Client,
    pub(super) statements: Statements,
}

/// Prepared statements by their SQL, for one connection.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

impl Statements {
    /// The statement for `sql` on the connection `tx` runs on, prepared
    /// the first time it is asked for.
    pub(super) fn get(
        &mut self,
        tx: &mut Transaction<'_>,
        sql: &str,
    ) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(sql)?;
        self.keep(sql, &statement);
        Ok(statement)
    }

    fn keep(&mut self, sql: &str, statement: &Statement) {
        if self.0.len() < MAX_STATEMENTS {
            self.0.insert(sql.to_string(), statement.clone());
        }
    }
}

impl Connection {
    /// Runs `sql` through its prepared statement: its rows.
    pub(super) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = match self.statements.0.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql)?;
                self.statements.keep(sql, &statement);
                statement
            }
        };
        self.client.query(&statement, params)
    }
}

/// Makes [`Connection`]s for the pool: `r2d2_postgres`'s manager, with a
/// statement cache beside each client.
#[derive(Debug)]
pub(super) struct Manager(pub(super) PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.0.connect()?,
            statements: Statements::default(),
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

//! Backend-specific checks of the PostgreSQL store: the shared suite on
//! PostgreSQL, the two backends' schemas kept in step, migrations under
//! concurrent start-up, and the plans of the main queries.

crate::storage::suite::storage_suite!(
    |dir| Box::new(super::testdb::open(dir)),
    ready: super::testdb::available
);

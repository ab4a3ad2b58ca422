-- Nothing on PostgreSQL: the delivery log (SQLite's 0006) needs every
-- reader in one process, and several nodes share this database, so
-- deliveries go straight into `inbox`.
SELECT 1;

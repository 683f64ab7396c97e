-- Run once, on the cluster's first start (docker-entrypoint-initdb.d), as the superuser. One user per application:
-- `temporal` creates and owns Temporal's databases (temporal, temporal_visibility: the compose file's
-- temporal-schema service runs temporal-sql-tool as it); `tradelane` owns the read model's database and nothing
-- else. Passwords come from the container's environment (psql's \getenv), never from this file.
\set ON_ERROR_STOP on
\getenv temporal_password POSTGRES_TEMPORAL_PASSWORD
\getenv tradelane_password POSTGRES_TRADELANE_PASSWORD
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE tradelane LOGIN PASSWORD :'tradelane_password';
CREATE DATABASE tradelane OWNER tradelane;
REVOKE ALL ON DATABASE tradelane FROM PUBLIC;

-- Temporal's schema tool creates its own databases (temporal, temporal_visibility; the compose file's
-- temporal-schema service); Tradelane's read model gets its own database.
CREATE DATABASE tradelane;

-- Temporal's auto-setup creates its own databases; Tradelane's read model gets its own database.
CREATE DATABASE tradelane;

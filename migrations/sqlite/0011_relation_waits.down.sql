-- Reverts 0011_relation_waits.up.sql.
DROP TABLE IF EXISTS relation_waits;

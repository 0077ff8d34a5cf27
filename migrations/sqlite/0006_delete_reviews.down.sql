-- Reverts 0006_delete_reviews.up.sql.
DROP TABLE IF EXISTS delete_reviews;

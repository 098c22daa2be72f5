-- Undoes 0012_known_instruments.up.sql (the rows are lost; sources re-baseline from their next list).
DROP TABLE IF EXISTS known_instruments;

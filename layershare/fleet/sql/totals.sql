-- The fleet's totals: physical and logical bytes are each host's own, summed. (The distinct images
-- and layers are counted from the answers of images.sql and layers.sql: one read of each table.)
SELECT
    count(*) AS hosts,
    coalesce(sum(physical_bytes), 0) AS physical_bytes,
    coalesce(sum(logical_bytes), 0) AS logical_bytes
FROM hosts

-- The fleet's totals: physical and logical bytes are each host's own, summed.
SELECT
    (SELECT count(*) FROM hosts) AS hosts,
    (SELECT count(DISTINCT image_id) FROM host_image) AS images,
    (SELECT count(DISTINCT chain_id) FROM host_layer) AS layers,
    (SELECT coalesce(sum(physical_bytes), 0) FROM hosts) AS physical_bytes,
    (SELECT coalesce(sum(logical_bytes), 0) FROM hosts) AS logical_bytes

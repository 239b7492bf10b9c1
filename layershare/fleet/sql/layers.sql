-- Each stored layer: on how many hosts, its size, and its fleet-wide bytes (size x hosts).
-- A host lists each of its layers once, so the rows of a layer are its hosts.
WITH per_layer AS (
    SELECT chain_id, count(*) AS hosts, max(bytes) AS size_bytes, sum(bytes) AS fleet_bytes
    FROM host_layer
    GROUP BY chain_id
),
instruction AS (
    SELECT chain_id, min(created_by) AS created_by FROM image_layer GROUP BY chain_id
)
SELECT p.chain_id, p.hosts, p.size_bytes, p.fleet_bytes, coalesce(i.created_by, '') AS created_by
FROM per_layer p LEFT JOIN instruction i USING (chain_id)
ORDER BY p.fleet_bytes DESC, p.chain_id

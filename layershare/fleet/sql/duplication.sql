-- Hosts whose containerd namespaces unpack the same layers more than once (a node running both
-- Docker and the kubelet): the bytes those second copies take, and the layers they are of.
WITH copied AS (
    SELECT host, count(*) AS layers
    FROM host_layer
    WHERE copies > 1
    GROUP BY host
)
SELECT h.host, h.duplicate_bytes, coalesce(c.layers, 0) AS layers, h.physical_bytes
FROM hosts h LEFT JOIN copied c USING (host)
WHERE coalesce(h.duplicate_bytes, 0) > 0
ORDER BY h.duplicate_bytes DESC, h.host

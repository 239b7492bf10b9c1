-- Hosts whose containerd namespaces unpack the same layers more than once (a node running both
-- Docker and the kubelet): the bytes those second copies take, and how many layers they are of.
SELECT host, duplicate_bytes, duplicate_layers AS layers, physical_bytes
FROM hosts
WHERE coalesce(duplicate_bytes, 0) > 0
ORDER BY duplicate_bytes DESC, host

-- Each host with its images and its physical and logical bytes, largest first (duplicate_bytes: what
-- its containerd namespaces keep twice, inside its physical bytes when they were read together).
SELECT host, images, physical_bytes, logical_bytes, engine_version, image_store, collected_at, duplicate_bytes
FROM hosts
ORDER BY physical_bytes DESC, host

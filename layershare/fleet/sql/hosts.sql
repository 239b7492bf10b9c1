-- Each host with its images and its physical and logical bytes, largest first.
SELECT host, images, physical_bytes, logical_bytes, engine_version, image_store, collected_at
FROM hosts
ORDER BY physical_bytes DESC, host

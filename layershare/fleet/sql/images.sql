-- Each image: its tags across the fleet, on how many hosts, and what removing it from every host
-- would free (the sum of each host's unique bytes of it; a host whose containerd namespaces both
-- hold the image lists it once per namespace, and removing it everywhere frees both).
SELECT
    image_id AS id,
    array_sort(array_distinct(flatten(array_agg(tags)))) AS tags,
    count(DISTINCT host) AS hosts,
    max(size_bytes) AS size_bytes,
    sum(unique_bytes) AS freed_if_removed_bytes
FROM host_image
GROUP BY image_id
ORDER BY hosts DESC, freed_if_removed_bytes DESC, id

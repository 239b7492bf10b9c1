-- Each image: its tags across the fleet, on how many hosts, and what removing it from every host
-- would free (the sum of each host's unique bytes of it). A host lists each image once.
SELECT
    image_id AS id,
    list_sort(list_distinct(flatten(list(tags)))) AS tags,
    count(*) AS hosts,
    max(size_bytes) AS size_bytes,
    sum(unique_bytes) AS freed_if_removed_bytes
FROM host_image
GROUP BY image_id
ORDER BY hosts DESC, freed_if_removed_bytes DESC, id

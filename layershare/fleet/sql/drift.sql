-- Drift across the fleet: repositories whose images serve as bases in more than one version.
SELECT
    base_repository AS repository,
    array_sort(array_distinct(array_agg(base))) AS versions,
    count(DISTINCT host) AS hosts,
    count(DISTINCT image_id) AS images
FROM host_image
WHERE base_repository IS NOT NULL
GROUP BY base_repository
HAVING count(DISTINCT base) > 1
ORDER BY hosts DESC, repository

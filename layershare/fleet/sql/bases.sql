-- Each base image (as `layershare check` finds it on each host): the images built on it, on how many hosts.
SELECT
    base,
    min(base_repository) AS repository,
    count(DISTINCT image_id) AS images,
    count(DISTINCT host) AS hosts
FROM host_image
WHERE base IS NOT NULL
GROUP BY base
ORDER BY hosts DESC, images DESC, base

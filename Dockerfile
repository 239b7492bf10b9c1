# layershare's container image: `make image` (BASE=... to change the base) builds it without network.
# The wheels come from the build context (`make image` downloads them on the host first, for the
# base's Python), so the build itself reaches no registry: no `# syntax=` line either (it would pull
# a frontend). Works with the classic builder and with BuildKit.
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
# EXTRAS=fleet (make image EXTRAS=fleet) adds DuckDB and Arrow for `layershare export` and `fleet`.
ARG EXTRAS=
COPY .image-wheels/ /wheels/
# A venv of layershare and its runtime dependencies, from the wheels only. What no import needs is left
# out: pip, setuptools (pkg_resources, _distutils_hack and its .pth), the dependencies' own test suites
# (folders named tests; pandas.testing and numpy.testing, which are public modules, stay) and
# zstandard's CFFI backend (12 MB; its C backend is the one imported). Every module left is compiled to
# bytecode once, here.
RUN python3 -m venv /opt/layershare \
 && site="$(/opt/layershare/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && /opt/layershare/bin/python3 -m pip install --no-index --no-cache-dir --no-compile --find-links /wheels \
        "$(ls /wheels/layershare-*.whl)${EXTRAS:+[$EXTRAS]}" \
 && rm -rf /opt/layershare/bin/pip* "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
        "$site"/pkg_resources "$site"/_distutils_hack "$site"/distutils-precedence.pth \
        "$site"/zstandard/_cffi.* "$site"/zstandard/backend_cffi.py \
 && find "$site" -depth -type d -name tests -exec rm -rf {} + \
 && /opt/layershare/bin/python3 -m compileall -q -j 0 /opt/layershare \
 && rm -rf /wheels

FROM ${BASE}
ARG VERSION=0.1.0
ARG SOURCE=https://pypi.org/project/layershare/
LABEL org.opencontainers.image.title="layershare" \
      org.opencontainers.image.description="How much disk your Docker images really use" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /opt/layershare /opt/layershare
# Nothing is written inside the container: no bytecode at run time, and the cache only where a volume
# is mounted at /cache (docker run -v layershare-cache:/cache ...).
ENV PATH=/opt/layershare/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    LAYERSHARE_CACHE_DIR=/cache \
    LAYERSHARE_CACHE_IF_PRESENT=1
# Root by default (as dive's image): the socket of a plain `-v /var/run/docker.sock:...` is root's.
# As another user: --user 65534 --group-add $(stat -c %g /var/run/docker.sock).
ENTRYPOINT ["layershare"]
CMD ["report"]

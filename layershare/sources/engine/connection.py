"""Reaching an engine: host URLs, TLS, docker contexts, and the SDK's errors turned into layershare's.

With :mod:`layershare.sources.engine.source`, the only modules that import the Docker SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
import requests.exceptions

from layershare.errors import EngineAPIError, EnginePermissionDenied, EngineUnreachable, SourceError
from layershare.sources.engine.contexts import chosen_context, describe_host


def connection_error(where: str, e: BaseException) -> SourceError:
    """The error for an engine that could not be reached: no permission on its socket, or nothing there."""
    if "Permission denied" in str(e) or isinstance(e, PermissionError):
        return EnginePermissionDenied(
            f"permission denied opening the Docker socket at {where}: run as a member of the "
            "'docker' group, or as root, or point DOCKER_HOST at an engine you may use"
        )
    return EngineUnreachable(
        f"cannot reach a Docker engine at {where}: is dockerd running? "
        "Set DOCKER_HOST or --host to the engine's address"
    )


@contextmanager
def engine_errors(where: str) -> Iterator[None]:
    """Turn the SDK's errors inside the block into layershare's typed errors."""
    try:
        yield
    except docker.errors.APIError as e:
        raise EngineAPIError(f"the engine at {where} answered an error: {e.explanation or e}") from e
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
        raise connection_error(where, e) from e


def open_api(
    host: str | None, *, context: str | None, pool_size: int, api_version: str | None = None
) -> tuple[Any, str]:
    """A low-level API client speaking the engine's own API version (``api_version`` when already
    known, else asked), and the engine's name for messages.

    ``host`` is any URL the Docker SDK accepts; None means the environment
    (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``), else the
    docker context, else the local socket.
    """
    where = describe_host(host)
    try:
        if host:  # as from DOCKER_HOST: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply
            options = docker.utils.kwargs_from_env(environment={**os.environ, "DOCKER_HOST": host})
        elif not os.environ.get("DOCKER_HOST") and (chosen := chosen_context(context)) is not None:
            where = f"{chosen.host} (context {chosen.name})"
            options = {"base_url": chosen.host}
            if chosen.host.startswith("tcp://") and (chosen.ca_cert or chosen.client_cert):
                options["tls"] = docker.tls.TLSConfig(
                    client_cert=chosen.client_cert,
                    ca_cert=chosen.ca_cert,
                    verify=not chosen.skip_tls_verify,
                )
        else:
            options = docker.utils.kwargs_from_env()
        base_url = str(options.get("base_url") or "")
        api = docker.APIClient(
            **options,
            version=docker.constants.MINIMUM_DOCKER_API_VERSION,
            use_ssh_client=base_url.startswith("ssh://"),
            max_pool_size=pool_size,
        )
        if options.get("tls"):
            # requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the engine's own CA.
            api.trust_env = False
        # The SDK's version="auto", after the line above: use the version the engine speaks.
        api._version = api_version or api.version(api_version=False)["ApiVersion"]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
        raise connection_error(where, e) from e
    return api, where

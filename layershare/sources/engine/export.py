"""One image's content streamed from the engine's export (``GET /images/{id}/get``): nothing touches
the disk. What ``layershare diff`` and browse's files of a layer read without the engine's files; over
ssh through layershare's own client, elsewhere through the SDK."""

from __future__ import annotations

import io
from typing import Any

from layershare.errors import ArchiveError, EngineAPIError, EngineUnreachable, ImageNotFound
from layershare.ids import short_id
from layershare.model import ImageContent
from layershare.sources.archive.reader import ChunkReader, read_archive
from layershare.sources.engine.plain_api import NotFound, PlainAPI

EXPORT_CHUNK = 1 << 18


def export_image(api: Any, image_id: str, where: str) -> ImageContent:
    """The image's one content of its export, read as it streams; layershare's errors for the rest."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    from layershare.sources.engine.connection import connection_error

    short = short_id(image_id)
    try:
        chunks = api.get_image(image_id, chunk_size=EXPORT_CHUNK)
        stream = io.BufferedReader(ChunkReader(chunks), EXPORT_CHUNK)
        contents = read_archive(stream, name=f"export of image {short}")
    except docker.errors.NotFound as e:
        raise ImageNotFound(f"image {short} is no longer on the engine at {where}") from e
    except docker.errors.APIError as e:
        if not _exists(api, image_id):  # Engine 20.10 answers 500, not 404, for a removed image
            raise ImageNotFound(f"image {short} is no longer on the engine at {where}") from e
        raise EngineAPIError(
            f"the engine at {where} could not export image {short}: {e.explanation or e}"
        ) from e
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError) as e:
        raise ArchiveError(f"the export of image {short} from {where} was cut off ({e})") from e
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
        raise connection_error(where, e) from e
    if len(contents) != 1:
        raise ArchiveError(f"the export of image {short} holds {len(contents)} images, not one")
    return contents[0]


def export_image_plain(plain: PlainAPI, image_id: str) -> ImageContent:
    """The same through layershare's own client (an engine over ssh, where the SDK is not used)."""
    short = short_id(image_id)
    try:
        chunks = plain.stream(f"/images/{image_id}/get")
    except NotFound as e:
        raise ImageNotFound(f"image {short} is no longer on the engine at {plain.where}") from e
    except EngineAPIError:
        try:
            plain.get(f"/images/{image_id}/json")
        except NotFound as e:  # Engine 20.10 answers 500, not 404, for a removed image
            raise ImageNotFound(f"image {short} is no longer on the engine at {plain.where}") from e
        raise
    try:
        stream = io.BufferedReader(ChunkReader(chunks), EXPORT_CHUNK)
        contents = read_archive(stream, name=f"export of image {short}")
    except EngineUnreachable as e:
        raise ArchiveError(f"the export of image {short} from {plain.where} was cut off ({e})") from e
    finally:
        chunks.close()
    if len(contents) != 1:
        raise ArchiveError(f"the export of image {short} holds {len(contents)} images, not one")
    return contents[0]


def _exists(api: Any, image_id: str) -> bool:
    import docker.errors

    try:
        api.inspect_image(image_id)
    except docker.errors.NotFound:
        return False
    return True


def export_contents(engine: Any, image_ids: list[str], *, hash_files: bool = False) -> list[ImageContent]:
    """Several images' contents from the engine's export, in batches (each layer once per batch), read
    as they stream; ``hash_files``: each layer's stored copies with their digests (``dupes``)."""
    from layershare.sources.engine.content import EXPORT_BATCH, _export_stream

    plain = engine._plain_api()
    api = engine._client() if plain is None else None
    found: list[ImageContent] = []
    for start in range(0, len(image_ids), EXPORT_BATCH):
        batch = image_ids[start : start + EXPORT_BATCH]
        try:
            stream = io.BufferedReader(ChunkReader(_export_stream(plain, api, batch)), EXPORT_CHUNK)
            found += read_archive(stream, name=f"the export of {len(batch)} image(s)", hash_files=hash_files)
        except NotFound as e:
            raise ImageNotFound(
                f"an image was removed from the engine at {engine.where} while it was read"
            ) from e
        except EngineUnreachable as e:
            raise ArchiveError(f"the export from {engine.where} was cut off ({e})") from e
    return found

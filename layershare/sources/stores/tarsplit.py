"""overlay2's tar-split (``image/overlay2/layerdb/sha256/<chain>/tar-split.json.gz``, vbatts/tar-split):
what the engine keeps to rebuild a layer's tar byte for byte. Each file entry (``"type":1``) names a
path, its length and the CRC-64 (ISO) of its content, base64: files of equal length whose CRC-64s differ
cannot hold the same content, so they need not be read to be told apart."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

_SEGMENT = b'{"type":2'  # as tar-split writes it: a segment line is skipped unparsed (most of the file)


def crc64s(path: Path) -> dict[str, str] | None:
    """Each file's CRC-64 by its path in the layer (no leading ``/``); None where the file cannot be
    read (a layer without tar-split, another graphdriver)."""
    found: dict[str, str] = {}
    try:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                if line[:12].replace(b" ", b"").startswith(_SEGMENT):
                    continue  # a segment: raw tar headers and padding
                entry = json.loads(line)
                if entry.get("type") != 1:
                    continue
                name = str(entry.get("name") or "")
                while name.startswith(("./", "/")):
                    name = name[2:] if name.startswith("./") else name[1:]
                payload = entry.get("payload")
                if name and isinstance(payload, str):
                    found[name] = payload
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    return found

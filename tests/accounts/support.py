"""Helpers for the account-security tests: mail checks, link parsing, generated images."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from PIL import ExifTags, Image

from tests.conftest import outbox_to

URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def assert_mail_ok(message: Any) -> None:
    """Both parts present, and every link in either built from FRONTEND_URL (never the request Host)."""
    assert isinstance(message, EmailMultiAlternatives)
    assert message.body.strip()
    html = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(html) == 1 and "<p>" in html[0]
    for part in (message.body, html[0]):
        for url in URL_RE.findall(part):
            assert url.startswith(settings.FRONTEND_URL), url


def last_mail(address: str, subject_contains: str = "") -> Any:
    found = [m for m in outbox_to(address) if subject_contains.lower() in m.subject.lower()]
    assert found, f"no mail to {address} with {subject_contains!r}"
    assert_mail_ok(found[-1])
    return found[-1]


def link_query(message: Any) -> dict[str, str]:
    """The query parameters of the first link in the text part."""
    url = URL_RE.search(message.body)
    assert url, message.body
    return {k: v[0] for k, v in parse_qs(urlparse(url.group(0)).query).items()}


# --- images ---------------------------------------------------------------------------------------------


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    return exif


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB", exif: Image.Exif | None = None
) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    # A little structure, so the encoders have something to compress.
    for x in range(0, size[0], 4):
        image.putpixel((x, x % size[1]), (0, 0, 255) if mode == "RGB" else (0, 0, 255, 255))
    out = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif is not None:
        kwargs["exif"] = exif
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_with_text_chunk(text: bytes) -> bytes:
    """A valid PNG carrying `text` in a tEXt chunk before IEND (an HTML/PNG polyglot without trailing data)."""
    data = image_bytes("PNG")
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + _png_chunk(b"tEXt", b"Comment\x00" + text) + data[iend:]


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A real 1-bit PNG of width×height pixels (about 110 kB compressed, 112 MB of pixel rows)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )

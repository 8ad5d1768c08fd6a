"""Avatar images: checked by content (never by name or declared type), then re-encoded from pixels only.

Order of checks: Pillow must identify the bytes as one of AVATAR_FORMATS (else 415); the header's pixel
count must be within AVATAR_MAX_PIXELS before any decoding (decompression bombs, 422); the container must
end where the image ends and hold no HTML/script markup (polyglots, 422); the image must decode fully (422).
The output is built from the decoded pixels alone, so no EXIF (GPS included), ICC, XMP or text chunk of the
upload survives, whatever the checks above missed.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts import errors

OUTPUT_FORMAT = "WEBP"
OUTPUT_EXTENSION = "webp"

# Long enough that compressed pixel data practically never contains them by chance.
_MARKUP = (
    b"<script",
    b"<html",
    b"<!doctype",
    b"<iframe",
    b"<?php",
    b"<body",
    b"<svg ",
    b"<object",
    b"<embed",
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Avatar:
    image: bytes
    thumbnail: bytes
    width: int
    height: int
    source_format: str


def _identify(data: bytes) -> tuple[str, int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=settings.AVATAR_FORMATS) as probe:
                return str(probe.format), probe.size[0], probe.size[1]
    except UnidentifiedImageError:
        raise errors.UnsupportedImage()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise errors.InvalidImage(gettext("The image has too many pixels."))
    except Exception:
        # Pillow's plugins raise many exception types on hostile input; none of them may become a 500.
        raise errors.InvalidImage(gettext("The image header is damaged."))


def _png_end(data: bytes) -> int:
    """Offset just past the IEND chunk (walking the chunk list), or -1 when the chunk list is broken."""
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return -1


def _container_whole(data: bytes, fmt: str) -> bool:
    """True when nothing is appended after the image (an appended HTML page or archive makes a polyglot)."""
    if fmt == "PNG":
        return _png_end(data) == len(data)
    if fmt in ("JPEG", "MPO"):
        # MPO (phone cameras: a JPEG with further JPEGs appended) ends with the last image's EOI as well.
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if fmt == "WEBP":
        (riff_size,) = struct.unpack("<I", data[4:8])
        return len(data) in (riff_size + 8, riff_size + 9)
    return False


def _clean_copy(image: Image.Image, side: int) -> Image.Image:
    """The image in RGB(A), scaled to fit `side`, rebuilt from its pixels alone: no info dict, so nothing of
    the upload's metadata (EXIF, ICC, XMP, text chunks) can be written out."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    converted = image.convert(mode)  # before scaling: palette and 1-bit images would resize as NEAREST
    converted.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format=OUTPUT_FORMAT, quality=85, method=4)
    return out.getvalue()


def avatar_process(data: bytes) -> Avatar:
    """Validate an uploaded avatar and return it re-encoded (longest side ≤ AVATAR_MAX_SIDE) with a square
    thumbnail. Raises UnsupportedImage (415) or InvalidImage (422)."""
    fmt, width, height = _identify(data)
    if width < 1 or height < 1 or width * height > settings.AVATAR_MAX_PIXELS:
        raise errors.InvalidImage(gettext("The image has too many pixels."))
    if not _container_whole(data, fmt):
        raise errors.InvalidImage(gettext("The file carries data after the end of the image."))
    if any(marker in data.lower() for marker in _MARKUP):
        raise errors.InvalidImage(gettext("The file carries markup or script content."))
    side = settings.AVATAR_MAX_SIDE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=settings.AVATAR_FORMATS) as source:
                source.seek(0)  # animated images: the first frame only
                if fmt in ("JPEG", "MPO"):
                    # Decode at the smallest DCT scale still at least `side`: a 12 MP photo costs a quarter
                    # of the work, and the output is scaled down anyway.
                    source.draft("RGB", (side, side))
                # A full decode: truncated or corrupt data fails here (LOAD_TRUNCATED_IMAGES stays off).
                source.load()
                ImageOps.exif_transpose(source, in_place=True)
                image = _clean_copy(source, side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise errors.InvalidImage(gettext("The image has too many pixels."))
    except Exception:
        raise errors.InvalidImage(gettext("The image data is damaged or truncated."))
    thumb_side = settings.AVATAR_THUMBNAIL_SIDE
    thumbnail = ImageOps.fit(image, (thumb_side, thumb_side), Image.Resampling.LANCZOS)
    return Avatar(
        image=_encode(image),
        thumbnail=_encode(thumbnail),
        width=image.size[0],
        height=image.size[1],
        source_format=fmt,
    )

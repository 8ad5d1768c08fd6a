from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test.client import encode_multipart
from PIL import ExifTags, Image

from accounts.models import Profile
from tests.accounts.support import gps_exif, image_bytes, png_bomb, png_with_text_chunk
from tests.conftest import actions, assert_error

BOUNDARY = "----custodian-test-boundary"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def upload(api, token, content: bytes, name="avatar.png", content_type="image/png", field="file"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = encode_multipart(BOUNDARY, {field: SimpleUploadedFile(name, content, content_type=content_type)})
    return api.call(
        "put", "/me/avatar", body, token=token, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )


def open_stored(name: str) -> Image.Image:
    with default_storage.open(name) as handle:
        data = handle.read()
    assert b"Exif" not in data and b"GPS" not in data and b"SpyCam" not in data
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_valid_image_is_reencoded_without_exif(api, user, tokens, media, fmt):
    content = image_bytes(fmt, exif=gps_exif())
    source = Image.open(io.BytesIO(content))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test image must carry GPS data"
    response = upload(api, tokens["access"], content, name=f"me.{fmt.lower()}")
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(user=user)
    assert profile.avatar.startswith("avatars/") and profile.avatar.endswith(".webp")
    assert "me." not in profile.avatar  # the name is the server's, not the client's
    assert stored(media) == sorted([profile.avatar, profile.avatar_thumbnail])
    image = open_stored(profile.avatar)
    assert image.format == "WEBP" and image.size == (64, 48)
    assert len(image.getexif()) == 0 and "exif" not in image.info
    thumb = open_stored(profile.avatar_thumbnail)
    assert thumb.size == (128, 128)
    body = response.json()["profile"]
    assert body["avatar_url"].endswith(profile.avatar)
    assert body["avatar_thumbnail_url"].endswith(profile.avatar_thumbnail)
    assert actions(action="user.avatar_updated") == ["user.avatar_updated"]


def test_multi_picture_jpeg_from_a_phone_is_accepted(api, user, tokens):
    first, second = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second], exif=gps_exif())
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    response = upload(api, tokens["access"], out.getvalue(), name="IMG_0001.JPG", content_type="image/jpeg")
    assert response.status_code == 200, response.content
    assert open_stored(Profile.objects.get(user=user).avatar).size == (40, 30)


def test_exif_orientation_is_applied_before_stripping(api, user, tokens):
    exif = gps_exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° on display
    response = upload(api, tokens["access"], image_bytes("JPEG", size=(64, 48), exif=exif))
    assert response.status_code == 200
    assert open_stored(Profile.objects.get(user=user).avatar).size == (48, 64)


def test_large_image_is_scaled_down_and_alpha_kept(api, user, tokens, settings):
    settings.AVATAR_MAX_SIDE = 100
    response = upload(api, tokens["access"], image_bytes("PNG", size=(400, 200), mode="RGBA"))
    assert response.status_code == 200
    image = open_stored(Profile.objects.get(user=user).avatar)
    assert image.size == (100, 50) and image.mode == "RGBA"


def test_get_me_shows_urls_within_two_queries(api, user, tokens, django_assert_max_num_queries):
    assert api.call("get", "/me", token=tokens["access"]).json()["profile"]["avatar_url"] is None
    upload(api, tokens["access"], image_bytes())
    with django_assert_max_num_queries(2):
        body = api.call("get", "/me", token=tokens["access"]).json()
    assert body["profile"]["avatar_url"].startswith("/media/avatars/")


def test_new_upload_replaces_and_delete_removes_the_files(api, user, tokens, media):
    upload(api, tokens["access"], image_bytes())
    first = stored(media)
    assert upload(api, tokens["access"], image_bytes("JPEG")).status_code == 200
    second = stored(media)
    assert len(second) == 2 and not set(first) & set(second)
    response = api.call("delete", "/me/avatar", token=tokens["access"])
    assert response.status_code == 204
    assert stored(media) == []
    profile = Profile.objects.get(user=user)
    assert profile.avatar == profile.avatar_thumbnail == ""
    assert api.call("get", "/me", token=tokens["access"]).json()["profile"]["avatar_url"] is None
    # Deleting again is a no-op, with no new event.
    assert api.call("delete", "/me/avatar", token=tokens["access"]).status_code == 204
    assert actions(action__startswith="user.avatar") == [
        "user.avatar_updated",
        "user.avatar_updated",
        "user.avatar_removed",
    ]


def test_limit_plus_one_byte_is_413(api, user, tokens, media, settings):
    content = image_bytes()
    settings.AVATAR_MAX_BYTES = len(content) - 1
    assert_error(upload(api, tokens["access"], content), 413, "file_too_large")
    assert stored(media) == []
    settings.AVATAR_MAX_BYTES = len(content)
    assert upload(api, tokens["access"], content).status_code == 200


def test_default_limit_plus_one_byte_is_413(api, user, tokens, media, settings):
    content = image_bytes()
    content += b"\x00" * (settings.AVATAR_MAX_BYTES + 1 - len(content))
    assert len(content) == 5 * 1024 * 1024 + 1
    assert_error(upload(api, tokens["access"], content), 413, "file_too_large")
    assert stored(media) == []


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("content", "name", "content_type", "status"),
    [
        (b"just some text, not an image\n", "avatar.png", "image/png", 415),
        (SVG, "avatar.svg", "image/svg+xml", 415),
        (SVG, "avatar.png", "image/png", 415),
        (HTML, "avatar.png", "image/png", 415),
        (b"", "avatar.png", "image/png", 415),
        ("gif", "avatar.gif", "image/gif", 415),
        ("polyglot-appended", "avatar.png", "image/png", 422),
        ("polyglot-chunk", "avatar.png", "image/png", 422),
        ("truncated", "avatar.png", "image/png", 422),
        ("bomb", "avatar.png", "image/png", 422),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    api, user, tokens, media, content, name, content_type, status
):
    upload(api, tokens["access"], image_bytes())
    before = stored(media)
    profile_before = Profile.objects.values("avatar", "avatar_thumbnail").get(user=user)
    generated = {
        "gif": lambda: image_bytes("GIF"),
        "polyglot-appended": lambda: image_bytes("PNG") + HTML,
        "polyglot-chunk": lambda: png_with_text_chunk(HTML),
        "truncated": lambda: image_bytes("PNG", size=(300, 300))[:-300],
        "bomb": png_bomb,
    }
    data = generated[content]() if isinstance(content, str) else content
    if content == "bomb":
        assert data[16:24] == (30000).to_bytes(4, "big") * 2  # IHDR: 30000 × 30000
    response = upload(api, tokens["access"], data, name=name, content_type=content_type)
    assert_error(response, status)
    assert stored(media) == before
    assert Profile.objects.values("avatar", "avatar_thumbnail").get(user=user) == profile_before
    assert actions(action="user.avatar_updated") == ["user.avatar_updated"]


def test_pixel_limit_is_a_setting(api, user, tokens, media, settings):
    settings.AVATAR_MAX_PIXELS = 100 * 100
    body = assert_error(upload(api, tokens["access"], image_bytes(size=(101, 100))), 422, "invalid_image")
    assert "pixels" in body["details"]["fields"]["file"][0]
    assert stored(media) == []


def test_bad_requests(api, user, tokens, media):
    access = tokens["access"]
    assert_error(upload(api, None, image_bytes()), 401)
    assert_error(upload(api, access, image_bytes(), field="picture"), 422, "validation_error")
    assert_error(api.call("put", "/me/avatar", {"file": "aGVsbG8="}, token=access), 422)
    assert_error(api.call("put", "/me/avatar", b"raw", token=access, content_type="image/png"), 422)
    broken = api.call(
        "put", "/me/avatar", b"--broken\r\n", token=access, content_type="multipart/form-data; boundary=other"
    )
    assert 400 <= broken.status_code < 500
    assert_error(broken, broken.status_code)
    no_boundary = api.call("put", "/me/avatar", b"x", token=access, content_type="multipart/form-data")
    assert_error(no_boundary, no_boundary.status_code)
    assert 400 <= no_boundary.status_code < 500
    assert_error(api.call("delete", "/me/avatar"), 401)
    assert stored(media) == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mutated_images_never_escape_as_server_errors():
    """Flipped bytes and cut files in every accepted format: each is accepted or refused with 415/422."""
    import random

    from accounts import errors, images

    rng = random.Random(20261121)
    seeds = [image_bytes(fmt, size=(48, 40), exif=gps_exif()) for fmt in ("PNG", "JPEG", "WEBP")]
    outcomes = set()
    for seed in seeds:
        for _ in range(80):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(8, len(data))]
            try:
                images.avatar_process(bytes(data))
                outcomes.add("ok")
            except (errors.UnsupportedImage, errors.InvalidImage) as exc:
                outcomes.add(exc.status)
    assert {415, 422} <= outcomes

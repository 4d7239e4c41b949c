"""Images for requests: JPEG at quality 85, longest side at most 1024 pixels (as in the published runs), and the
split of a message's text at its ``<image>`` placeholders so each image lands where it was announced.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from theory_of_space.agents.base import IMAGE_PLACEHOLDER

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "DEFAULT_MAX_SIDE",
    "EncodedImage",
    "encode_image",
    "image_digest",
    "interleave",
]

DEFAULT_JPEG_QUALITY = 85
DEFAULT_MAX_SIDE = 1024
_MEMO_SIZE = 256


@dataclass(frozen=True)
class EncodedImage:
    """A compressed image ready for a request body."""

    media_type: str
    base64_data: str

    @property
    def data_url(self) -> str:
        """The ``data:`` URL form the OpenAI Chat Completions API takes."""
        return f"data:{self.media_type};base64,{self.base64_data}"


def image_digest(image: np.ndarray) -> str:
    """A content hash of an image array (shape, dtype and pixels)."""
    array = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{array.shape}{array.dtype}".encode())
    digest.update(array.data)
    return digest.hexdigest()


# Every turn re-sends the images of earlier turns; remembering their encodings keeps a 20-turn vision
# episode from compressing the same pictures 200 times.
_memo: OrderedDict[tuple[str, int, int], EncodedImage] = OrderedDict()
_memo_lock = threading.Lock()


def encode_image(
    image: np.ndarray, *, max_side: int = DEFAULT_MAX_SIDE, quality: int = DEFAULT_JPEG_QUALITY
) -> EncodedImage:
    """Compress an ``HxWx3`` (or ``HxW``) ``uint8`` array to base64 JPEG.

    Args:
        image: The picture.
        max_side: Longest side after downscaling (aspect ratio kept; never upscaled).
        quality: JPEG quality, 1–95.

    Raises:
        ValueError: The array is not an 8-bit grey, RGB or RGBA image.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected a uint8 HxW, HxWx3 or HxWx4 image, got dtype {image.dtype} shape {image.shape}")
    key = (image_digest(image), max_side, quality)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    encoded = _compress(image, max_side=max_side, quality=quality)
    with _memo_lock:
        _memo[key] = encoded
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return encoded


def _compress(image: np.ndarray, *, max_side: int, quality: int) -> EncodedImage:
    from PIL import Image

    picture = Image.fromarray(image).convert("RGB")  # JPEG has no alpha channel
    longest = max(picture.size)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return EncodedImage("image/jpeg", base64.b64encode(buffer.getvalue()).decode("ascii"))


def interleave(content: str, images: Sequence[np.ndarray]) -> list[str | np.ndarray]:
    """Split ``content`` at its ``<image>`` placeholders and put each image in its place.

    Empty text pieces are dropped. A message with images but no placeholders (which
    :class:`~theory_of_space.agents.base.Message` forbids) cannot reach here.

    Example:
        >>> interleave("see <image> then <image>.", [a, b])  # doctest: +SKIP
        ['see ', a, ' then ', b, '.']
    """
    if not images:
        return [content] if content else []
    pieces = content.split(IMAGE_PLACEHOLDER)
    parts: list[str | np.ndarray] = []
    for index, piece in enumerate(pieces):
        if piece:
            parts.append(piece)
        if index < len(images):
            parts.append(images[index])
    return parts

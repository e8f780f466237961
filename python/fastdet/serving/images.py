"""One image of a request, from the bytes a client sent to a frame the Detector takes.

An item is an encoded image (JPEG, PNG, anything ``fastdet.frames.decode_image`` reads, so the
pixels equal ``Detector.detect`` on the same file) or a raw frame as an NPY array uint8[H, W, 3]
(numpy's own format, read without pickle and without a copy). Its size is checked from the header
before anything is decoded, so a small file claiming 100 megapixels costs nothing.

Between the router and the detector model an item travels in an envelope: ``ENVELOPE``, the
registry version it asks for, the server's internal key (with a policy), the image. The version
rides with its image because MLServer's batcher keeps nothing else per request apart (a second
input would break the split as soon as one request in a batch lacked it). A detector model
configured with the key serves only items carrying it, so its endpoint cannot be used to get
around the router's policy.
"""

from __future__ import annotations

import hmac
import io
import math
import warnings

import numpy as np

from ..errors import InputError
from ..frames import Frame, decode_image
from .errors import BadRequest, Forbidden, TooLarge

NPY_MAGIC = b"\x93NUMPY"
ENVELOPE = b"FDET1\n"
MAX_VERSION = 64
ROUTER_ONLY = "this detector model serves requests through the fastdet router only; send them to the router"


def wrap(payload: bytes, key: bytes | None, version: str | None) -> bytes:
    """The router's envelope around one item: ``ENVELOPE``, the version asked for and a newline,
    the internal key (when the server has one), the image."""
    return b"".join((ENVELOPE, (version or "").encode(), b"\n", key or b"", payload))


def unwrap(item: bytes, key: bytes | None) -> tuple[memoryview, str | None]:
    """(image, version asked for) of an item. Without an internal key, an item that is not in an
    envelope is an image for the default version; with one, only an envelope carrying the key
    (compared in constant time) is served."""
    view = memoryview(item)
    if bytes(view[: len(ENVELOPE)]) != ENVELOPE:
        if key is not None:
            raise Forbidden(ROUTER_ONLY)
        return view, None
    rest = view[len(ENVELOPE):]
    end = bytes(rest[:MAX_VERSION + 1]).find(b"\n")
    if end < 0:
        raise BadRequest("image: a malformed fastdet envelope (no version line)")
    version = bytes(rest[:end]).decode("utf-8", "replace") or None
    rest = rest[end + 1:]
    if key is not None:
        if len(rest) < len(key) or not hmac.compare_digest(bytes(rest[: len(key)]), key):
            raise Forbidden(ROUTER_ONLY)
        rest = rest[len(key):]
    return rest, version


def npy_array(data: bytes | memoryview) -> np.ndarray:
    """Reads an NPY array (no pickles) as a view of ``data``."""
    buf = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(buf)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"NPY format version {version} (expected 1.0 or 2.0)")
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(buf)
    except (ValueError, SyntaxError) as e:
        raise BadRequest(f"image: a malformed NPY array ({e})") from None
    if dtype != np.uint8 or fortran:
        raise BadRequest(f"image: an NPY frame must be uint8 in C order, got {dtype}{' (Fortran order)' if fortran else ''}")
    # Python ints: numpy's product wraps around in int64, and a header may claim any shape.
    if len(shape) != 3 or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise BadRequest(f"image: an NPY frame has shape [H, W, 3], got {list(shape)}")
    count = math.prod(shape)
    offset = buf.tell()
    if len(data) - offset != count:
        raise BadRequest(f"image: the NPY header promises {count} bytes of pixels, {len(data) - offset} came")
    return np.frombuffer(data, np.uint8, count, offset).reshape(shape)


def encoded_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(height, width) from an encoded image's header (Pillow reads only the header), or None when
    Pillow does not know the format (OpenCV may still)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - pillow is in the serve extra
        return None
    try:
        with warnings.catch_warnings():
            # Pillow warns of "decompression bombs" above ~89 Mpx: the size check below decides.
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        raise TooLarge(f"image: more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return int(h), int(w)


def check_pixels(h: int, w: int, max_pixels: int) -> None:
    if h * w > max_pixels:
        raise TooLarge(f"image: {w}x{h} is {h * w / 1e6:.1f} megapixels; this server takes at most "
                       f"{max_pixels / 1e6:g} megapixels per image")


def check_frame(a: np.ndarray, max_pixels: int) -> None:
    """A raw frame must be uint8[H, W, 3] with H, W >= 1 and at most ``max_pixels`` pixels."""
    if a.dtype != np.uint8:
        raise BadRequest(f"image: expected uint8 pixels, got {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise BadRequest(f"image: expected a frame of shape [H, W, 3], got {list(a.shape)}")
    check_pixels(a.shape[0], a.shape[1], max_pixels)


def item_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(height, width) of an item (encoded image or NPY frame) without decoding it; None when the
    header does not say (the decoder then decides)."""
    if bytes(data[: len(NPY_MAGIC)]) == NPY_MAGIC:
        shape = npy_array(data).shape
        return (int(shape[0]), int(shape[1])) if len(shape) == 3 else None
    return encoded_size(data)


def decode_item(data: bytes | memoryview, max_pixels: int, rgb_frames: bool = False) -> Frame:
    """A frame for the Detector from one item: an encoded image (decoded as ``Detector.detect``
    decodes files) or an NPY frame uint8[H, W, 3] (BGR, or RGB when ``rgb_frames``)."""
    if not len(data):
        raise BadRequest("image: empty (0 bytes)")
    if bytes(data[: len(NPY_MAGIC)]) == NPY_MAGIC:
        a = npy_array(data)
        check_frame(a, max_pixels)
        return Frame(a, rgb=rgb_frames)
    size = encoded_size(data)
    if size is not None:
        check_pixels(*size, max_pixels)
    try:
        frame = decode_image(bytes(data), "image")
    except InputError as e:
        raise BadRequest(str(e)) from None
    check_pixels(*frame.shape, max_pixels)
    return frame

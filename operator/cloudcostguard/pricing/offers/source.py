"""Opening an offer file: plain or gzip (told by its magic bytes, not its name), JSON or CSV (told by
its first character), hashed as it is read (sha256 of the decompressed content: the same prices
give the same digest whether the file came gzipped or not).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from cloudcostguard import errors

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024


class _ReadError(errors.OfferFileError):
    pass


class HashingReader(io.RawIOBase):
    """A binary stream that hashes and counts what passes through, and names read failures."""

    def __init__(self, raw: BinaryIO, name: str, prefix: bytes = b"") -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._prefix = prefix
        self.digest = hashlib.sha256(prefix)
        self.bytes_read = len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._read_raw(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0:
                data, self._prefix = self._prefix + self._read_raw(-1), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._read_raw(size)

    def _read_raw(self, size: int) -> bytes:
        try:
            data = self._raw.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise _ReadError(f"{self._name}: gzip data is corrupt or truncated ({err})") from err
        except OSError as err:
            raise _ReadError(f"cannot read {self._name}: {err.strerror or err}") from err
        self.digest.update(data)
        self.bytes_read += len(data)
        return data


@dataclass(slots=True)
class OfferSource:
    name: str
    stream: HashingReader
    file_format: Literal["json", "csv"]
    compressed: bool

    @property
    def digest(self) -> str:
        return self.stream.digest.hexdigest()


@contextlib.contextmanager
def open_offer_file(path: Path, *, name: str | None = None) -> Iterator[OfferSource]:
    """Open ``path`` for reading with format detection; the caller reads ``source.stream`` to the end."""
    label = name or str(path)
    try:
        handle: BinaryIO = path.open("rb")
    except FileNotFoundError as err:
        raise errors.OfferFileError(f"offer file not found: {label}", reason="NotFound") from err
    except IsADirectoryError as err:
        raise errors.OfferFileError(f"offer file path is a directory: {label}", reason="NotFound") from err
    except OSError as err:
        raise errors.OfferFileError(f"cannot read offer file {label}: {err.strerror or err}") from err
    with handle, open_offer_stream(handle, label) as source:
        yield source


@contextlib.contextmanager
def open_offer_stream(handle: BinaryIO, label: str) -> Iterator[OfferSource]:
    try:
        magic = handle.read(2)
    except OSError as err:
        raise errors.OfferFileError(f"cannot read offer file {label}: {err.strerror or err}") from err
    compressed = magic == GZIP_MAGIC
    raw: BinaryIO
    if compressed:
        raw = gzip.GzipFile(fileobj=_Rewound(magic, handle), mode="rb")  # type: ignore[assignment]
        prefix = b""
    else:
        raw = handle
        prefix = magic
    head = prefix + _read_head(raw, label)
    file_format = sniff_format(head, label)
    # The sniffed head is replayed first; the digest covers it once, then everything read after it.
    stream = HashingReader(raw, label, head)
    yield OfferSource(name=label, stream=stream, file_format=file_format, compressed=compressed)


def _read_head(raw: BinaryIO, label: str) -> bytes:
    """Up to SNIFF_BYTES, and at least one non-blank byte unless the file ends (pipes give less)."""
    reader = HashingReader(raw, label)
    head = b""
    while len(head) < SNIFF_BYTES:
        data = reader.read(SNIFF_BYTES - len(head))
        if not data:
            break
        head += data
        if head.strip():
            break
    return head


class _Rewound(io.RawIOBase):
    """Gives back bytes already read from a non-seekable stream (the magic), then the stream itself."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def sniff_format(head: bytes, label: str) -> Literal["json", "csv"]:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise errors.OfferFileError(f"{label}: the file is empty")
    if text[:1] == b"{":
        return "json"
    if text[:1] == b"[":
        raise errors.OfferFileError(f"{label}: a JSON array is not an AWS offer file")
    if text.startswith((b'"FormatVersion"', b"FormatVersion", b'"SKU"', b"SKU,")):
        return "csv"
    raise errors.OfferFileError(f"{label}: not an AWS offer file (neither offer JSON nor offer CSV)")

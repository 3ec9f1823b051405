"""Bounded decoding of ``Content-Encoding``.

Why not httpx's decoders: they inflate a whole raw chunk at once with no output limit
(a 1.7 KB brotli body became a 1 GiB chunk, POLITENESS_AND_SECURITY.md 2.3) and they honour
stacked codings. Here the fetcher feeds raw bytes from ``aiter_raw()`` and every call
produces at most the remaining decoded budget plus one byte, so a bomb is refused after
``max_decoded_bytes`` of output, never after inflating it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import brotli

__all__ = [
    "SUPPORTED_ENCODINGS",
    "BodyDecoder",
    "DecodeError",
    "DecodedTooLarge",
    "make_decoder",
]

SUPPORTED_ENCODINGS = ("gzip", "deflate", "br")
# Output of one decompression step: small, so a step never holds much beside the body.
STEP_BYTES = 256 * 1024

_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS  # 47: auto-detect a gzip or zlib header
_RAW_DEFLATE = -zlib.MAX_WBITS  # servers that send "deflate" without the zlib header


class DecodeError(Exception):
    """Unknown, stacked or corrupt content coding."""


class DecodedTooLarge(Exception):
    """The decoded body grew past its cap."""


class BodyDecoder:
    """Identity decoding; subclasses inflate. ``feed`` appends decoded bytes, bounded."""

    def __init__(self, max_bytes: int, *, truncate: bool = False) -> None:
        self.max_bytes = max_bytes
        self.produced = 0
        # With ``truncate`` (article pages) the output stops at the cap instead of failing.
        self.truncate = truncate
        self.truncated = False

    def _count(self, chunk: bytes) -> bytes:
        self.produced += len(chunk)
        if self.produced > self.max_bytes:
            if not self.truncate:
                raise DecodedTooLarge(f"decoded body exceeds {self.max_bytes} bytes")
            keep = len(chunk) - (self.produced - self.max_bytes)
            self.produced = self.max_bytes
            self.truncated = True
            return chunk[:keep]
        return chunk

    def _limit(self) -> int:
        # One byte more than allowed, so that "exactly at the cap" and "over it" differ.
        return min(self.max_bytes - self.produced + 1, STEP_BYTES)

    def feed(self, data: bytes, into: bytearray) -> None:
        """Decode ``data`` and append the output to ``into``."""
        if not self.truncated:
            into += self._count(data)

    def finish(self, into: bytearray) -> None:
        """Check that the stream ended cleanly (and append any tail)."""


class _ZlibDecoder(BodyDecoder):
    def __init__(self, max_bytes: int, *, raw_fallback: bool, truncate: bool = False) -> None:
        super().__init__(max_bytes, truncate=truncate)
        self._obj = zlib.decompressobj(wbits=_GZIP_OR_ZLIB)
        self._raw_fallback = raw_fallback
        self._started = False
        self._ended = False

    def feed(self, data: bytes, into: bytearray) -> None:
        out = into
        while data and not self.truncated:
            if self._ended:
                # Concatenated gzip members are legal (RFC 1952 §2.2); anything else is not.
                self._obj = zlib.decompressobj(wbits=_GZIP_OR_ZLIB)
                self._ended = False
            try:
                chunk = self._obj.decompress(data, self._limit())
            except zlib.error as err:
                if self._raw_fallback and not self._started:
                    self._raw_fallback = False
                    self._obj = zlib.decompressobj(wbits=_RAW_DEFLATE)
                    continue
                raise DecodeError(f"corrupt compressed body: {err}") from err
            self._started = True
            out += self._count(chunk)
            if self._obj.eof:
                self._ended = True
                data = self._obj.unused_data
            else:
                data = self._obj.unconsumed_tail

    def finish(self, into: bytearray) -> None:
        # Not started: an empty body with a Content-Encoding header, which is fine.
        if self._started and not self.truncated and not self._obj.eof:
            raise DecodeError("truncated compressed body")


class _BrotliDecoder(BodyDecoder):
    def __init__(self, max_bytes: int, *, truncate: bool = False) -> None:
        super().__init__(max_bytes, truncate=truncate)
        self._obj = brotli.Decompressor()
        self._started = False

    def feed(self, data: bytes, into: bytearray) -> None:
        if not data or self.truncated:
            return
        self._started = True
        out = into
        try:
            out += self._count(self._obj.process(data, output_buffer_limit=self._limit()))
            while not self.truncated and not self._obj.can_accept_more_data():
                out += self._count(self._obj.process(b"", output_buffer_limit=self._limit()))
        except brotli.error as err:
            raise DecodeError(f"corrupt brotli body: {err}") from err

    def finish(self, into: bytearray) -> None:
        if self._started and not self.truncated and not self._obj.is_finished():
            raise DecodeError("truncated brotli body")


def make_decoder(
    headers: Mapping[str, str], max_bytes: int, *, truncate: bool = False
) -> BodyDecoder:
    """The decoder for a response's ``Content-Encoding``; refuses stacked or unknown ones."""
    value = headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return BodyDecoder(max_bytes, truncate=truncate)
    if len(codings) > 1:
        raise DecodeError(f"stacked content codings refused: {value!r}")
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder(max_bytes, raw_fallback=False, truncate=truncate)
    if coding == "deflate":
        return _ZlibDecoder(max_bytes, raw_fallback=True, truncate=truncate)
    if coding == "br":
        return _BrotliDecoder(max_bytes, truncate=truncate)
    raise DecodeError(f"unknown content coding refused: {value!r}")

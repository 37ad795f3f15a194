"""A streaming reader of AWS Price List offer files in JSON, with flat memory.

A regional EC2 offer file is hundreds of MB and a whole-offer file several GB, so the document is
never held at once. The reader walks the known layout
``{"offerCode", "version", "publicationDate", …, "products": {SKU: product},
"terms": {"OnDemand": {SKU: terms}, "Reserved": {SKU: terms}}}`` with a small hand-written scanner,
and hands the items of ``products`` and ``terms.*`` to orjson a few MB at a time.

Why not an incremental JSON library: none is in the product's dependency list (ijson would be the
usual choice, and its pure-Python backend runs at a few MB/s). Why not stdlib ``json`` item by item:
finding each item's end in Python costs more than parsing it. Instead:

1. Read a chunk (4 MiB by default) into a buffer.
2. Find the buffer's last item boundary with a regex for ``}, "SKU": {`` (SKUs are upper-case
   alphanumerics). In valid JSON that pattern can only be a real object member: inside a string its
   quotes would be escaped, and a string cannot be followed by a bare word.
3. Parse everything before the boundary as one object, ``b"{" + items + b"}"``, with orjson. Its
   strictness checks the split: a boundary at a nested depth or inside a value fails to parse.
4. When the section ends inside the batch, orjson reports "unexpected content after document" at
   the section's closing brace; the part before it holds the last items.
5. Anything unusual (no boundary found, a failed parse) falls back to reading one item with a
   bracket-matching scanner and orjson, which also produces the error message for a corrupt file.

Sections other than OnDemand (Reserved, …) are parsed the same way and dropped. Memory stays at a
few chunks plus one batch of parsed items, whatever the file size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal, NoReturn, Protocol

import orjson

from cloudcostguard import errors
from cloudcostguard.pricing.offers.locations import region_of
from cloudcostguard.pricing.offers.model import (
    EXCLUDED_CAPACITY_STATUS,
    ON_DEMAND,
    Batch,
    OfferHeader,
    PriceRow,
    ProductRow,
    ReadStats,
    Selection,
    decimal_or_error,
    keep_attributes,
    tier_end_or_none,
)

MiB = 1024 * 1024
DEFAULT_CHUNK = 4 * MiB
MAX_ITEM = 64 * MiB  # one product or one SKU's terms; real ones are a few kB
TAIL = 256 * 1024  # the last item boundary is searched for in the buffer's tail first

_WHITESPACE = b" \t\r\n"
_NON_WS = re.compile(rb"[^ \t\r\n]")
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_SCALAR = re.compile(rb"-?[0-9][0-9.eE+-]*+|true|false|null")
# A lone '"' means a string cut off by the end of the buffer.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]|"')
# Anchored on the '}' that ends the previous item: far rarer than ',' (the regex engine scans for
# the first byte), which makes finding boundaries several times faster.
_ITEM_BOUNDARY = re.compile(rb'\}[ \t\r\n]*(,)[ \t\r\n]*"([A-Z0-9]+)"[ \t\r\n]*:[ \t\r\n]*\{')
_TRAILING = "unexpected content after document"
_RESERVATION = re.compile(rb'"capacitystatus"[ \t\r\n]*:[ \t\r\n]*"(?:Unused|Allocated)CapacityReservation"')
_KEY = re.compile(rb'[ \t\r\n]*"([^"\\]*)"')
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"{}[]\\')  # deleted when skipping

Kind = Literal["products", "prices", "skip"]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class OfferJsonReader:
    """Iterate ``batches()`` once; ``header`` and ``stats`` are complete when it is exhausted."""

    def __init__(
        self, stream: Readable, *, name: str, selection: Selection, chunk_size: int = DEFAULT_CHUNK
    ) -> None:
        self._stream = stream
        self._name = name
        self._selection = selection
        self._chunk_size = chunk_size
        self._data = b""
        self._pos = 0
        self._base = 0  # offset in the (decompressed) file of self._data[0]
        self._eof = False
        self.header = OfferHeader(file_format="json")
        self.stats = ReadStats()
        self.prices_before_products = False
        self._products_done = False
        self._kept: set[str] = set()
        self._checked_services: set[str] = set()

    # --- layout ---------------------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        if self._peek() != ord("{"):
            self._fail("an offer file is a JSON object")
        self._pos += 1
        seen_products = False
        top_keys: list[str] = []
        for key in self._members():
            top_keys.append(key)
            if key == "products":
                if self._peek() != ord("{"):
                    self._fail(
                        "products is not an object: not an AWS offer file (Savings Plan files are not)"
                    )
                yield from self._items("products")
                seen_products = True
                self._products_done = True
            elif key == "terms":
                if self._peek() != ord("{"):
                    self._fail("terms is not an object")
                self._pos += 1
                for term_type in self._members():
                    if term_type == ON_DEMAND:
                        yield from self._items("prices")
                    elif not self._skip_object():
                        yield from self._items("skip")
            else:
                value = self._read_value()
                self._header_value(key, value)
        self._skip_ws()
        if self._pos < len(self._data) or self._fill():
            self._skip_ws()
            if self._pos < len(self._data):
                self._fail("unexpected data after the end of the offer file")
        if not seen_products:
            if "offers" in top_keys:
                what = "the price list's service index"
            elif "regions" in top_keys:
                what = "a region index"
            elif "versions" in top_keys:
                what = "a version index"
            else:
                what = "a JSON document without products"
            raise errors.OfferFileError(f"{self._name}: not an AWS offer file ({what})")

    def _members(self) -> Iterator[str]:
        """Keys of the object whose '{' was just consumed; the caller reads each value."""
        if self._peek() == ord("}"):
            self._pos += 1
            return
        while True:
            key = self._read_string()
            if self._peek() != ord(":"):
                self._fail("expected ':' after a key")
            self._pos += 1
            yield key
            separator = self._peek()
            if separator == ord(","):
                self._pos += 1
            elif separator == ord("}"):
                self._pos += 1
                return
            else:
                self._fail("expected ',' or '}'")

    def _header_value(self, key: str, value: Any) -> None:
        text = value if isinstance(value, str) else None
        if key == "offerCode":
            if text is None:
                self._fail("offerCode is not a string")
            self.header.offer_code = text
            self._check_service(text)
        elif key == "version":
            self.header.version = text
        elif key == "publicationDate":
            self.header.publication_date = text
        elif key == "formatVersion":
            self.header.format_version = text
            if text is not None and not text.startswith("v1"):
                self._fail(f"unsupported offer file formatVersion {text!r}")

    def _check_service(self, code: str) -> None:
        if code not in self._checked_services:
            self._selection.check_service(code)
            self._checked_services.add(code)

    # --- sections of items ----------------------------------------------------------------------

    def _items(self, kind: Kind) -> Iterator[Batch]:
        """The object of items at the cursor ('{' not consumed yet): parsed in batches, then emitted."""
        if self._peek() != ord("{"):
            self._fail("expected an object")
        self._pos += 1
        following = self._peek()
        if following == ord("}"):
            self._pos += 1
            return
        if following is None:
            self._fail("the file ends early (truncated?)")
        start = self._pos
        while True:
            end = self._last_boundary(start)
            if end is None and not self._eof and len(self._data) - start <= 4 * self._chunk_size:
                self._pos = start
                self._fill()
                start = self._pos
                continue
            if end is not None and kind != "skip":
                kept = self._without_dropped_items(kind, start, end)
                if kept is not None:
                    try:
                        items = orjson.loads(kept[0])
                    except orjson.JSONDecodeError:
                        pass  # parse the whole span below: it reports what is wrong
                    else:
                        if kind == "products":
                            self.stats.products_seen += kept[1]
                            self.stats.skip("capacity reservation", kept[1])
                        else:
                            self.stats.skip("price of a product not kept", kept[2])
                        batch = self._emit(kind, items)
                        if batch is not None:
                            yield batch
                        start = end + 1
                        continue
            if end is not None or self._eof:
                stop = len(self._data) if end is None else end
                wrapped = b"{" + self._data[start:stop] + b"}"
                try:
                    items = orjson.loads(wrapped)
                except orjson.JSONDecodeError as err:
                    closed = self._section_close(wrapped, err)
                    if closed is not None:
                        items, length = closed
                        batch = self._emit(kind, items)
                        if batch is not None:
                            yield batch
                        self._pos = start + length - 1
                        return
                else:
                    if end is None:  # parsed to the end of the file: the closing braces are missing
                        self._pos = len(self._data)
                        self._fail("the file ends early (truncated?)")
                    batch = self._emit(kind, items)
                    if batch is not None:
                        yield batch
                    start = end + 1
                    continue
            # The slow, exact path: one item.
            self._pos = start
            key = self._read_string()
            if self._peek() != ord(":"):
                self._fail("expected ':' after a key")
            self._pos += 1
            value = self._read_value()
            batch = self._emit(kind, {key: value})
            if batch is not None:
                yield batch
            separator = self._peek()
            if separator == ord(","):
                self._pos += 1
                self._skip_ws()
                start = self._pos
            elif separator == ord("}"):
                self._pos += 1
                return
            else:
                self._fail("expected ',' or '}' after an item")

    def _without_dropped_items(self, kind: Kind, start: int, end: int) -> tuple[bytes, int, int] | None:
        """The span's items as one object, less those that would be dropped anyway, with the number
        of items and price dimensions left out; None when none is.

        Parsing an item costs far more than looking at its text, and most of a real EC2 file is
        dropped: capacity-reservation products (two of every three instance products) and their
        terms. Items are left out on their text (the capacitystatus member; a SKU not kept) only
        when the span's brackets, strings aside, balance exactly: then it is a run of whole items
        and does not hold the end of the section (which the normal path handles).
        """
        products = kind == "products"
        if not products and not self._products_done:
            return None
        data = self._data
        if _bracket_balance(data[start:end].translate(None, _NOT_STRUCTURE)) != (0, 0):
            return None
        runs: list[bytes] = []
        dropped = dimensions = 0
        run_start = start
        first = start
        kept_skus = self._kept
        boundaries = [match for match in _ITEM_BOUNDARY.finditer(data, start, end)]
        for index in range(len(boundaries) + 1):
            last = boundaries[index].start(1) if index < len(boundaries) else end
            if products:
                drop = _RESERVATION.search(data, first, last) is not None
            else:
                key = boundaries[index - 1].group(2) if index else _first_key(data, first)
                drop = key is not None and key.decode("ascii") not in kept_skus
            if drop:
                if run_start < first:
                    runs.append(data[run_start : first - 1])
                dropped += 1
                if not products:
                    dimensions += data.count(b'"pricePerUnit"', first, last)
                run_start = last + 1
            first = last + 1
        if not dropped:
            return None
        if run_start < end:
            runs.append(data[run_start:end])
        return b"{" + b",".join(runs) + b"}", dropped, dimensions

    def _skip_object(self) -> bool:
        """Pass over the object at the cursor (Reserved terms) without parsing it; False if unsure.

        A JSON string cannot hold a raw newline, so in a pretty-printed file (AWS's are) every
        newline lies outside strings: the text up to the buffer's last newline holds whole strings
        only. Deleting every byte but quotes and brackets (``bytes.translate``, in C), then every
        adjacent pair of quotes (the strings, when they hold no brackets), leaves the brackets.
        Removing matched pairs until none is left leaves ``c`` closers then ``o`` openers: the depth
        dips by ``c`` inside the text, so the object ends there exactly when ``c`` reaches the
        current depth; only then is the text walked token by token. Strings holding brackets or
        escapes are walked too. A file without newlines (minified) is parsed the normal way instead.
        """
        if self._peek() != ord("{"):
            self._fail("expected an object")
        if self._data.find(b"\n", self._pos, self._pos + self._chunk_size) < 0:
            return False
        self._pos += 1
        depth = 1
        while True:
            cut = self._data.rfind(b"\n", self._pos) + 1
            if cut <= self._pos:
                if len(self._data) - self._pos > MAX_ITEM:
                    self._fail("a line is longer than the limit")
                if not self._fill():
                    self._fail("the file ends early (truncated?)")
                continue
            closers = _bracket_balance(self._data[self._pos : cut].translate(None, _NOT_STRUCTURE))
            if closers is not None and closers[0] < depth:
                depth += closers[1] - closers[0]
                self._pos = cut
                if not self._fill():
                    self._fail("the file ends early (truncated?)")
                continue
            begin, depth = self._narrow(self._pos, cut, depth)
            for token in _TOKENS.finditer(self._data, begin, cut):
                char = token.group()
                if char[0] == 0x22:
                    continue
                depth += 1 if char in b"{[" else -1
                if depth == 0:
                    self._pos = token.end()
                    return True
            self._pos = cut
            if not self._fill():
                self._fail("the file ends early (truncated?)")

    def _narrow(self, begin: int, cut: int, depth: int) -> tuple[int, int]:
        """Halve ``[begin, cut)`` (at newlines) while the object's end stays in the later part, so that
        the token walk covers a few kB instead of a whole chunk; returns the new begin and depth."""
        data = self._data
        while cut - begin > 64 * 1024:
            middle = data.rfind(b"\n", begin, (begin + cut) // 2) + 1
            if middle <= begin:
                break
            balance = _bracket_balance(data[begin:middle].translate(None, _NOT_STRUCTURE))
            if balance is None:
                break
            closers, openers = balance
            if closers >= depth:
                cut = middle
            else:
                depth += openers - closers
                begin = middle
        return begin, depth

    def _last_boundary(self, start: int) -> int | None:
        """Index of the comma before the last ``"SKU": {`` in the buffer after ``start``."""
        data = self._data
        low = max(start, len(data) - TAIL)
        while True:
            last = None
            for last in _ITEM_BOUNDARY.finditer(data, low):  # noqa: B007 - only the last match is wanted
                pass
            if last is not None:
                return last.start(1)
            if low == start:
                return None
            low = max(start, low - 8 * TAIL)

    def _section_close(self, wrapped: bytes, err: orjson.JSONDecodeError) -> tuple[Any, int] | None:
        """When the section ended inside the batch: its items and the byte length up to its '}'."""
        if not str(err).startswith(_TRAILING):
            return None
        position = err.pos
        if not wrapped.isascii():  # orjson counts characters; the buffer is bytes
            position = len(wrapped.decode("utf-8", "replace")[:position].encode("utf-8"))
        document = wrapped[:position].rstrip(_WHITESPACE)
        if not document.endswith(b"}"):
            return None
        try:
            return orjson.loads(document), len(document)
        except orjson.JSONDecodeError:
            return None

    def _emit(self, kind: Kind, items: Any) -> Batch | None:
        if not isinstance(items, dict):
            self._fail("expected an object of items")
        if kind == "products":
            return Batch("products", self._products(items))
        if kind == "prices":
            return Batch("prices", self._prices(items))
        return None

    def _products(self, items: dict[str, Any]) -> list[ProductRow]:
        rows: list[ProductRow] = []
        stats = self.stats
        selection = self._selection
        offer_code = self.header.offer_code
        checked = self._checked_services
        kept_skus = self._kept
        for sku, product in items.items():
            stats.products_seen += 1
            if not isinstance(product, dict):
                self._fail(f"product {sku} is not an object")
            attributes = product.get("attributes") or {}
            if not isinstance(attributes, dict):
                self._fail(f"product {sku} has no attributes object")
            if attributes.get("capacitystatus") in EXCLUDED_CAPACITY_STATUS:
                stats.skip("capacity reservation")
                continue
            service = offer_code or attributes.get("servicecode")
            if not service:
                self._fail(f"product {sku}: the file names no offerCode and the product no servicecode")
            if service not in checked:
                self._check_service(service)
            region = region_of(attributes)
            if region is None:
                stats.skip("location unknown")
                continue
            if not selection.keeps_region(region):
                stats.skip("region not selected")
                continue
            family = product.get("productFamily")
            kept = keep_attributes(attributes)
            if family:
                kept["productFamily"] = str(family)
            kept["sku"] = sku
            rows.append(ProductRow(sku, service, region, str(family) if family else None, kept))
            kept_skus.add(sku)
        stats.products_kept += len(rows)
        return rows

    def _prices(self, items: dict[str, Any]) -> list[PriceRow]:
        rows: list[PriceRow] = []
        stats = self.stats
        products_done = self._products_done
        if not products_done:
            self.prices_before_products = True
        kept = self._kept
        for sku, terms in items.items():
            if not isinstance(terms, dict):
                self._fail(f"terms of {sku} are not an object")
            if products_done and sku not in kept:
                stats.skip("price of a product not kept", sum(_dimension_count(t) for t in terms.values()))
                continue
            for term in terms.values():
                dimensions = term.get("priceDimensions") if isinstance(term, dict) else None
                if not isinstance(dimensions, dict):
                    self._fail(f"a term of {sku} has no priceDimensions object")
                for rate_code, dimension in dimensions.items():
                    stats.prices_seen += 1
                    row = self._price_row(sku, rate_code, dimension)
                    if row is not None:
                        rows.append(row)
        stats.prices_kept += len(rows)
        return rows

    def _price_row(self, sku: str, rate_code: str, dimension: Any) -> PriceRow | None:
        if not isinstance(dimension, dict):
            self._fail(f"price dimension {rate_code} is not an object")
        per_unit = dimension.get("pricePerUnit")
        usd = per_unit.get("USD") if isinstance(per_unit, dict) else None
        if usd is None:
            self.stats.skip("not priced in USD")
            return None
        unit = dimension.get("unit")
        if not isinstance(unit, str):
            self._fail(f"price dimension {rate_code} has no unit")
        where = f"{self._name}: {rate_code}"
        begin = dimension.get("beginRange")
        return PriceRow(
            sku,
            str(dimension.get("rateCode") or rate_code),
            unit,
            decimal_or_error(usd, "price", where),
            decimal_or_error(begin, "beginRange", where) if begin not in (None, "") else _ZERO,
            tier_end_or_none(dimension.get("endRange"), where),
        )

    # --- the scanner ----------------------------------------------------------------------------

    def _fill(self) -> bool:
        chunk = self._stream.read(self._chunk_size)
        if not chunk:
            self._eof = True
            return False
        if self._pos:
            self._base += self._pos
            self._data = self._data[self._pos :] + chunk
            self._pos = 0
        else:
            self._data += chunk
        return True

    def _skip_ws(self) -> bool:
        while True:
            match = _NON_WS.search(self._data, self._pos)
            if match:
                self._pos = match.start()
                return True
            self._pos = len(self._data)
            if not self._fill():
                return False

    def _peek(self) -> int | None:
        if not self._skip_ws():
            return None
        return self._data[self._pos]

    def _read_string(self) -> str:
        if self._peek() != ord('"'):
            self._fail("expected a string")
        while True:
            match = _STRING.match(self._data, self._pos)
            if match:
                self._pos = match.end()
                value = orjson.loads(match.group())
                assert isinstance(value, str)
                return value
            if len(self._data) - self._pos > MAX_ITEM:
                self._fail("a string is larger than the limit")
            if not self._fill():
                self._fail("the file ends inside a string (truncated?)")

    def _read_value(self) -> Any:
        first = self._peek()
        if first is None:
            self._fail("the file ends early (truncated?)")
        if first == ord('"'):
            return self._read_string()
        if first in b"{[":
            end = self._value_end()
            text = self._data[self._pos : end]
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as err:
                self._fail(f"invalid JSON: {err}")
            self._pos = end
            return value
        while True:
            match = _SCALAR.match(self._data, self._pos)
            # A number at the end of the buffer may continue in the next chunk.
            if match and (match.end() < len(self._data) or self._eof):
                self._pos = match.end()
                return orjson.loads(match.group())
            if self._eof or not self._fill():
                if match:
                    self._pos = match.end()
                    return orjson.loads(match.group())
                self._fail("invalid JSON value")

    def _value_end(self) -> int:
        """End index of the object or array at the cursor, filling the buffer as needed."""
        while True:
            depth = 0
            for token in _TOKENS.finditer(self._data, self._pos):
                char = token.group()
                if char == b'"':
                    break  # a string runs past the buffer: read more
                if char[0] == 0x22:
                    continue
                if char in b"{[":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return token.end()
            if len(self._data) - self._pos > MAX_ITEM:
                self._fail(f"an item is larger than the {MAX_ITEM // MiB} MiB limit")
            if not self._fill():
                self._fail("the file ends early (truncated?)")

    def _fail(self, message: str) -> NoReturn:
        offset = self._base + self._pos
        raise errors.OfferFileError(f"{self._name}: {message} (at byte {offset})", reason="OfferFileInvalid")


def _first_key(data: bytes, position: int) -> bytes | None:
    match = _KEY.match(data, position)
    return None if match is None else match.group(1)


def _bracket_balance(structure: bytes) -> tuple[int, int] | None:
    """(unmatched closers, unmatched openers) of quotes-and-brackets text; None when strings hold
    brackets or escapes (the caller then walks the tokens)."""
    if b"\\" in structure:
        return None
    brackets = structure.replace(b'""', b"")
    if b'"' in brackets:
        return None
    while True:
        reduced = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if len(reduced) == len(brackets):
            break
        brackets = reduced
    closers = len(brackets) - len(brackets.lstrip(b"}]"))
    if brackets[closers:].strip(b"{[") != b"":  # mismatched kinds: let the walk report it
        return None
    return closers, len(brackets) - closers


def _dimension_count(term: Any) -> int:
    dimensions = term.get("priceDimensions") if isinstance(term, dict) else None
    return len(dimensions) if isinstance(dimensions, dict) else 0


_ZERO = Decimal(0)

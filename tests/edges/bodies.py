"""A request body generated as it is read, counting what the server reads of it."""

from __future__ import annotations

import io

MB = 1024 * 1024


class GeneratedBody(io.RawIOBase):
    """``size`` bytes of ``fill``, made on demand (never held whole), with a count of bytes read."""

    def __init__(self, size: int, fill: bytes = b"a") -> None:
        self.size, self.fill, self.read_bytes = size, fill, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        # Only for measuring (werkzeug's test client seeks to the end and back): reads go on.
        self._mark = self.size if whence == 2 else offset
        return self._mark

    def tell(self) -> int:
        return getattr(self, "_mark", 0)

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.size - self.read_bytes)
        buffer[:count] = self.fill * count
        self.read_bytes += count
        return count

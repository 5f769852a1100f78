"""The service's one in-memory cache: a bounded, thread-safe LRU, and files opened through it.

Every response cache (data API, maps, OGC collections) is an ``LRUCache`` whose keys name the
release, so an entry is never stale, only evicted. Open tile archives go through a
``FileCache``: keyed by path, reopened when the file is replaced (new inode, mtime or size).
Both are sized by ``Settings.cache_entries`` (``QUARTIER_CACHE_ENTRIES``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

from geo.errors import NotFoundError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Rendered = tuple[bytes, dict[str, str]]
"""What a response cache holds: a rendered body and its extra headers."""


class LRUCache(Generic[K, V]):
    """At most ``maxsize`` entries; the least recently used one goes first (0 keeps nothing)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"cache size {maxsize} is negative")
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[K, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: K) -> V | None:
        """Return the value of ``key`` (now the most recently used) or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Store a value, evicting the least recently used entries beyond ``maxsize``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """Return the cached value, calling ``make`` on a miss.

        Concurrent misses of one key wait for a single ``make`` (a map or an OGC collection
        can take a second to render); other keys are not blocked meanwhile.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            pending = self._pending.setdefault(key, threading.Lock())
        try:
            with pending:
                with self._lock:
                    if key in self._items:
                        self._items.move_to_end(key)
                        return self._items[key]
                value = make()
                self.put(key, value)
                return value
        finally:
            with self._lock:
                if self._pending.get(key) is pending:
                    del self._pending[key]

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()


class FileStamp(NamedTuple):
    """What tells a replaced file from the one opened before."""

    inode: int
    mtime_ns: int
    size: int


class _Opened(NamedTuple, Generic[V]):
    stamp: FileStamp
    value: V


class FileCache(Generic[V]):
    """Objects opened from files (tile archives), at most ``maxsize`` paths.

    A rebuild replaces the file; the next ``open`` sees a new stamp and reopens it. The
    replaced object is not closed here: requests may still read it, and the garbage collector
    releases it (and the deleted file's space) once they are done.
    """

    def __init__(self, open_file: Callable[[Path], V], maxsize: int, *, noun: str) -> None:
        self._open_file = open_file
        self._noun = noun
        self._entries: LRUCache[str, _Opened[V]] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _stamp(self, path: Path) -> FileStamp:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"no {self._noun} at {path}") from None
        return FileStamp(stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def open(self, path: Path) -> V:
        """Return the object opened from ``path``, reopening it if the file changed.

        Raises:
            NotFoundError: if there is no file at ``path``.
        """
        path = Path(path)
        stamp = self._stamp(path)
        entry = self._entries.get(str(path))
        if entry is not None and entry.stamp == stamp:
            return entry.value
        with self._lock:
            entry = self._entries.get(str(path))
            if entry is not None and entry.stamp == stamp:
                return entry.value
            try:
                value = self._open_file(path)
            except FileNotFoundError:
                raise NotFoundError(f"no {self._noun} at {path}") from None
            # a file replaced between stat and open is stored under the older stamp; the
            # next call sees the newer stamp and opens it again
            self._entries.put(str(path), _Opened(stamp, value))
            return value

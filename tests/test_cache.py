"""The service's bounded LRU cache and the file cache that reopens replaced tile archives."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from geo.errors import NotFoundError
from service.cache import FileCache, LRUCache
from service.settings import Settings


def test_cache_keeps_at_most_maxsize_entries() -> None:
    """Putting more entries than the size evicts the oldest ones."""
    cache: LRUCache[int, str] = LRUCache(3)
    for i in range(10):
        cache.put(i, str(i))
    assert len(cache) == 3
    assert [i for i in range(10) if i in cache] == [7, 8, 9]


def test_least_recently_used_goes_first() -> None:
    """A read makes an entry recent: the entry not read since is evicted."""
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.get("b") is None


def test_get_or_make_makes_only_on_a_miss() -> None:
    """The value is made once and then served from the cache."""
    cache: LRUCache[str, int] = LRUCache(2)
    calls: list[str] = []

    def make() -> int:
        calls.append("x")
        return 42

    assert cache.get_or_make("k", make) == 42
    assert cache.get_or_make("k", make) == 42
    assert calls == ["x"]


def test_size_zero_keeps_nothing() -> None:
    """With size 0 every call makes the value and nothing is stored."""
    cache: LRUCache[str, int] = LRUCache(0)
    assert cache.get_or_make("k", lambda: 1) == 1
    assert len(cache) == 0


def test_negative_size_is_refused() -> None:
    """A negative size is a configuration error."""
    with pytest.raises(ValueError, match="-1"):
        LRUCache(-1)


def test_failed_make_is_not_cached() -> None:
    """An exception from make propagates and the next call tries again."""
    cache: LRUCache[str, int] = LRUCache(2)

    def fail() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.get_or_make("k", fail)
    assert cache.get_or_make("k", lambda: 7) == 7


def test_concurrent_misses_of_one_key_make_it_once() -> None:
    """Threads asking for the same missing key wait for a single make."""
    cache: LRUCache[str, object] = LRUCache(4)
    calls: list[int] = []
    start = threading.Barrier(8)
    results: list[object] = []

    def make() -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    def worker() -> None:
        start.wait()
        results.append(cache.get_or_make("k", make))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_many_threads_never_exceed_the_size() -> None:
    """Concurrent puts and reads of many keys keep the cache within its size."""
    cache: LRUCache[int, int] = LRUCache(16)
    sizes: list[int] = []

    def worker(offset: int) -> None:
        for i in range(500):
            key = (i * 7 + offset) % 64
            assert cache.get_or_make(key, lambda k=key: k * 2) == key * 2
            sizes.append(len(cache))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(sizes) <= 16 and len(cache) == 16


def test_file_cache_reopens_a_replaced_file(tmp_path: Path) -> None:
    """The same object while the file is unchanged; a new one after it is rewritten."""
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    files = FileCache(lambda p: p.read_bytes(), 4, noun="tiles")
    first = files.open(path)
    assert first == b"one" and files.open(path) is first
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert files.open(path) == b"two!"
    assert len(files) == 1


def test_file_cache_is_bounded(tmp_path: Path) -> None:
    """At most maxsize paths stay open."""
    files = FileCache(lambda p: p.read_bytes(), 2, noun="tiles")
    for i in range(5):
        (tmp_path / f"{i}.bin").write_bytes(b"x")
        files.open(tmp_path / f"{i}.bin")
    assert len(files) == 2


def test_file_cache_missing_file_is_not_found(tmp_path: Path) -> None:
    """A missing file raises NotFoundError naming the path."""
    files = FileCache(lambda p: p.read_bytes(), 2, noun="tiles")
    with pytest.raises(NotFoundError, match="no tiles at .*nothing.pmtiles"):
        files.open(tmp_path / "nothing.pmtiles")


def test_cache_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUARTIER_CACHE_ENTRIES sets the size of every cache; negative sizes are refused."""
    monkeypatch.setenv("QUARTIER_CACHE_ENTRIES", "12")
    assert Settings().cache_entries == 12
    monkeypatch.setenv("QUARTIER_CACHE_ENTRIES", "-1")
    with pytest.raises(ValueError, match="cache_entries"):
        Settings()

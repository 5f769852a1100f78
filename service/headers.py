"""HTTP header values shared by the routers: hostile text made header-safe, file names, CSP.

Every text from a build (attribution, names, ids) is hostile: a line break in a header value
makes the server drop the whole response, a character outside Latin-1 makes Starlette fail.
``header_text`` is the one way such text reaches a header; ``content_disposition`` the one way
a file name does.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

_TYPOGRAPHY = str.maketrans({"–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "‚": "'",
                             "‘": "'", "’": "'", "…": "...", "€": "EUR"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SPACES = re.compile(r"\s+")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
_HANDLER = re.compile(r"""<[^>]*?\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def header_text(text: str, *, limit: int = 1000) -> str:
    """One line of Latin-1 text: no CR/LF or other control characters; umlauts are kept.

    Line breaks and tabs become spaces; characters Latin-1 lacks become their closest
    ASCII form or ``?``. Longer text is cut at ``limit`` characters (with ``...``).
    """
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text.translate(_TYPOGRAPHY))).strip()
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        ascii_form = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(ascii_form if ascii_form.isprintable() and ascii_form else "?")
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ascii_filename(name: str) -> str:
    """A file name of ASCII letters, digits, ``.``, ``_`` and ``-`` (others become ``_``)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _FILENAME_UNSAFE.sub("_", plain).strip("._") or "download"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``Content-Disposition`` (RFC 6266): an ASCII ``filename`` and the UTF-8 ``filename*``."""
    fallback = ascii_filename(filename)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


# --- Content-Security-Policy --------------------------------------------------------------------


def _sha256(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


def script_hashes(page: str, *, handlers: bool = False) -> list[str]:
    """``'sha256-…'`` sources of every inline ``<script>`` of a page (scripts with src skipped).

    With these in ``script-src`` (and no ``'unsafe-inline'``) the page's own scripts run and
    nothing injected does: no event-handler attribute, no other script element.
    ``handlers=True`` adds the page's own event-handler attributes (``onsubmit="…"``) with
    ``'unsafe-hashes'``: only for trusted static pages (the viewer's index.html).
    """
    hashes = {_sha256(body) for attrs, body in _INLINE_SCRIPT.findall(page)
              if not re.search(r"\bsrc\s*=", attrs, re.I)}
    found = {_sha256(a or b) for a, b in _HANDLER.findall(page)} if handlers else set()
    return sorted(hashes | found) + (["'unsafe-hashes'"] if found else [])


def url_source(url_template: str) -> str:
    """The CSP source of a configured URL template (``{s}`` subdomains become ``*.``)."""
    if not url_template:
        return ""
    parts = urlsplit(url_template.replace("{s}", "a"))
    host = parts.netloc
    if "{s}" in url_template:
        host = host.replace("a.", "*.", 1)
    return f"{parts.scheme}://{host}"


def csp(directives: Mapping[str, str | list[str]]) -> str:
    """A ``Content-Security-Policy`` value from ``{directive: sources}`` (empty ones dropped)."""
    parts = []
    for name, sources in directives.items():
        text = " ".join(s for s in sources if s) if isinstance(sources, list) else sources
        if text.strip():
            parts.append(f"{name} {text.strip()}")
    return "; ".join(parts)


def page_policy(*, scripts: list[str], basemap: str = "", workers: bool = False,
                frame_ancestors: str = "") -> str:
    """The CSP of a Quartier HTML page: only its own files; inline styles allowed.

    ``scripts``: extra ``script-src`` sources (hashes of the page's inline scripts);
    ``basemap``: the host of a configured basemap (images and fetches); ``workers``: the
    page starts blob: web workers (MapLibre, ReDoc); ``frame_ancestors``: who may embed the
    page (empty: anyone, ``file:`` reports included — a ``frame-ancestors`` list cannot
    name them).
    """
    return csp({
        "default-src": "'self'",
        "script-src": ["'self'", *scripts],
        "style-src": "'self' 'unsafe-inline'",
        "img-src": ["'self'", "data:", "blob:", basemap],
        "connect-src": ["'self'", basemap],
        "font-src": "'self' data:",
        "worker-src": "'self' blob:" if workers else "'self'",
        "child-src": "'self' blob:" if workers else "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    })


IMMUTABLE = "public, max-age=31536000, immutable"
"""A response pinned to a release (``release=``) never changes."""


def cache_control(max_age: int, pinned: bool) -> str:
    """Pinned responses may be cached for good; others only ``max_age`` seconds (never
    ``immutable``: a rebuild or rollback changes them)."""
    return IMMUTABLE if pinned else f"public, max-age={max_age}"

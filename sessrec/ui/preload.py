"""Fetch the front end's widget scripts with the page, not after it: a shorter first load.

Streamlit's front end loads the script of each element type (select box, slider, the list
component...) only when the first page run sends such an element: on the playground's first
screen that is about 50 files, fetched in waves one round trip after another, well after the
page itself. :class:`PreloadChunks` (an ASGI middleware for ``st.App``, see ``serve.py``) adds
``<link rel="modulepreload">`` tags for those scripts and the scripts they import to the HTML
page, so the browser fetches and parses them while the front end starts.

The scripts are found by name in the installed Streamlit's static folder (their names carry a
content hash that changes with each release); names that are not there are left out, so a
Streamlit upgrade can make the preload list shorter, never break the page.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any

#: the element types of the playground's first screen, by the name of their script in Streamlit's build
FIRST_SCREEN_ELEMENTS = (
    "Selectbox", "Multiselect", "Button", "TextInput", "Slider", "Checkbox", "Pagination", "BidiComponent", "Html",
)
_IMPORT = re.compile(rb"""(?:from|import)\s*["']\./([\w.-]+\.js)["']""")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def streamlit_static_dir() -> Path:
    """The installed Streamlit's built front end (``index.html`` and ``static/js``)."""
    import streamlit

    return Path(streamlit.__file__).parent / "static"


def preload_chunks(static_dir: Path, elements: tuple[str, ...] = FIRST_SCREEN_ELEMENTS) -> list[str]:
    """Script files (relative to ``static_dir``) of ``elements`` and everything they import, in a
    stable order, less those ``index.html`` already loads or preloads."""
    js = static_dir / "static" / "js"
    index = (static_dir / "index.html").read_text(encoding="utf-8")
    pending = [path.name for element in elements for path in sorted(js.glob(f"{element}.*.js"))]
    seen: set[str] = set()
    order: list[str] = []
    while pending:
        name = pending.pop(0)
        if name in seen or not (js / name).is_file():
            continue
        seen.add(name)
        order.append(name)
        pending.extend(match.decode() for match in _IMPORT.findall((js / name).read_bytes()))
    return [f"static/js/{name}" for name in order if f"static/js/{name}" not in index]


@lru_cache(maxsize=1)
def preload_tags(static_dir: Path | None = None) -> bytes:
    """The ``<link rel="modulepreload">`` tags for :func:`preload_chunks` (computed once)."""
    chunks = preload_chunks(static_dir or streamlit_static_dir())
    return "".join(f'<link rel="modulepreload" crossorigin href="./{chunk}">' for chunk in chunks).encode()


class PreloadChunks:
    """ASGI middleware: HTML pages get ``tags`` (default: :func:`preload_tags`) before ``</head>``.

    Only ``GET`` answers whose content type is ``text/html`` change; their ``Content-Length`` is
    set to the new length and their ``ETag``/``Last-Modified`` (those of the file on disk) are
    dropped, so a browser never pairs the changed page with the file's validators.
    """

    def __init__(self, app: ASGIApp, tags: bytes | None = None):
        self.app = app
        self.tags = tags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path", "").startswith("/_stcore"):
            await self.app(scope, receive, send)
            return
        tags = self.tags if self.tags is not None else preload_tags()
        start: Message | None = None
        parts: list[bytes] = []

        async def forward(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and message.get("status") == 200:
                    start = message  # held back until the body is complete
                    return
            elif message["type"] == "http.response.body" and start is not None:
                parts.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(parts).replace(b"</head>", tags + b"</head>", 1)
                dropped = {b"content-length", b"etag", b"last-modified"}
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in dropped]
                await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, forward)

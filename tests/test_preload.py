"""serve.py's HTML page asks for the first screen's widget scripts at once (sessrec.ui.preload)."""

from __future__ import annotations

import asyncio

from sessrec.ui.preload import PreloadChunks, preload_chunks, streamlit_static_dir


def fake_build(tmp_path):
    js = tmp_path / "static" / "js"
    js.mkdir(parents=True)
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="modulepreload" href="./static/js/shared.1.js"></head></html>')
    (js / "Selectbox.a1.js").write_text('import{x}from"./menu.b2.js";import"./shared.1.js";export{}')
    (js / "menu.b2.js").write_text('import{y}from"./deep.c3.js";import{z}from"./gone.d4.js";export{}')
    (js / "deep.c3.js").write_text("export const y=1")
    (js / "shared.1.js").write_text("export const s=1")
    (js / "Slider.e5.js").write_text('import{x}from"./menu.b2.js";export{}')
    return tmp_path


def test_chunks_of_the_named_elements_and_what_they_import_less_what_the_page_already_loads(tmp_path):
    static = fake_build(tmp_path)
    chunks = preload_chunks(static, ("Selectbox", "Slider", "NotInThisBuild"))
    # each file once, the named ones first; missing imports and index.html's own preloads left out
    assert chunks == ["static/js/Selectbox.a1.js", "static/js/Slider.e5.js", "static/js/menu.b2.js",
                      "static/js/deep.c3.js"]


def test_the_installed_streamlit_still_has_the_first_screens_scripts():
    # a Streamlit upgrade that renames them would silently drop the preload: this says so instead
    static = streamlit_static_dir()
    chunks = preload_chunks(static)
    names = {chunk.split("/")[-1].split(".")[0] for chunk in chunks}
    assert {"Selectbox", "Multiselect", "Slider", "BidiComponent"} <= names
    assert len(chunks) > 20 and all((static / chunk).is_file() for chunk in chunks)


def call(app, path: str, method: str = "GET") -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(PreloadChunks(app, tags=b'<link rel="modulepreload" href="./static/js/A.js">')(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {k.decode(): v.decode() for k, v in start["headers"]}, body


def file_app(content_type: bytes, parts: list[bytes], status: int = 200):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type), (b"content-length", str(sum(map(len, parts))).encode()),
            (b"etag", b'"abc"'), (b"last-modified", b"Mon, 07 Dec 2026 10:00:00 GMT")]})
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})
    return app


def test_html_pages_get_the_tags_before_head_end_with_a_right_length_and_no_file_validators():
    page = [b"<html><head><title>x</title>", b"</head><body></body></html>"]  # sent in two parts
    headers, body = call(file_app(b"text/html; charset=utf-8", page), "/Benchmarks")
    assert body == b'<html><head><title>x</title><link rel="modulepreload" href="./static/js/A.js"></head><body></body></html>'
    assert headers["content-length"] == str(len(body))
    assert "etag" not in headers and "last-modified" not in headers


def test_scripts_errors_and_streamlits_own_endpoints_pass_unchanged():
    script = [b"export const a = '</head>'"]
    for app, path, method in (
        (file_app(b"application/javascript", script), "/static/js/x.js", "GET"),
        (file_app(b"text/html", [b"<head></head>"], status=404), "/missing", "GET"),
        (file_app(b"text/html", [b"<head></head>"]), "/_stcore/health", "GET"),
        (file_app(b"text/html", [b"<head></head>"]), "/", "HEAD"),
    ):
        headers, body = call(app, path, method)
        assert body == b"".join(script) if path.endswith(".js") else body == b"<head></head>"
        assert headers["etag"] == '"abc"'

"""sessrec app, warmed up: ``streamlit run serve.py`` serves app.py and, while the server starts,
imports the pages and loads the demo's data and models into the shared caches
(:mod:`sessrec.ui.warm`; ``SESSREC_WARM_DATASETS`` names other datasets), so the first visitor
does not wait for them, and its HTML page asks the browser to fetch the first screen's widget
scripts at once (:mod:`sessrec.ui.preload`) instead of in waves as the widgets arrive.
``streamlit run app.py`` serves the same app without either."""

import asyncio
import sys
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from sessrec.ui.preload import PreloadChunks


def _report(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    error = task.exception()
    print(f"sessrec: warm-up failed ({type(error).__name__}: {error}); pages load on first use"
          if error else f"sessrec: warmed up {task.result()}", file=sys.stderr)


@asynccontextmanager
async def warmed(_app):
    from sessrec.ui.warm import warm_up

    task = asyncio.create_task(asyncio.to_thread(warm_up))  # the server answers meanwhile
    task.add_done_callback(_report)
    yield
    task.cancel()


app = st.App("app.py", lifespan=warmed, middleware=[Middleware(PreloadChunks)])

"""sessrec app, warmed up: ``streamlit run serve.py`` serves app.py and, while the server starts,
imports the pages and loads the demo's data and models into the shared caches
(:mod:`sessrec.ui.warm`), so the first visitor does not wait for them."""

import asyncio
import sys
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def warmed(_app):
    from sessrec.ui.warm import warm_up

    task = asyncio.create_task(asyncio.to_thread(warm_up))  # the server answers meanwhile
    task.add_done_callback(lambda t: print(f"sessrec: warmed up {t.result()}", file=sys.stderr)
                           if not t.exception() else None)
    yield
    task.cancel()


app = st.App("app.py", lifespan=warmed)

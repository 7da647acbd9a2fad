"""Streamlit helpers shared by the app's pages.

Modules without Streamlit in their imports (``catalogue``, ``session``, ``models``,
``playground``, ``benchmarks``, ``curves``, ``explorer``, ``replay``, ``diagrams``,
``charts``) are plain functions over sessrec objects and are tested without a browser.
``resources`` (cached loaders), ``sidebar`` and ``widgets`` are the Streamlit glue.
"""

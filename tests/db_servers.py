"""Real database servers for the tests: the MariaDB and PostgreSQL servers this project's
machines run, reached by URL.

The admin URLs come from ``SESSREC_TEST_MYSQL_URL`` (default
``mysql+pymysql://root@127.0.0.1:3306/test``) and ``SESSREC_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). :func:`mariadb_database` and
:func:`postgres_database` create a database of their own for one test run, yield its URL and
drop it afterwards; where no server answers they call ``pytest.skip`` with the reason.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

MYSQL_URL = os.environ.get("SESSREC_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get("SESSREC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def _scratch_database(admin_url: str, what: str, autocommit: bool, drop_suffix: str = "") -> Iterator[str]:
    sqlalchemy = pytest.importorskip("sqlalchemy", reason="needs SQLAlchemy")
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"sessrec_test_{uuid.uuid4().hex[:10]}"
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = sqlalchemy.create_engine(url, **options)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
            if not autocommit:
                connection.commit()
    except Exception as exc:  # no server, refused, no driver: the test cannot run here
        engine.dispose()
        pytest.skip(f"no {what} server answers at {url.render_as_string(hide_password=True)} "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}{drop_suffix}"))
            if not autocommit:
                connection.commit()
        engine.dispose()


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A fresh database on the MariaDB/MySQL server at ``SESSREC_TEST_MYSQL_URL``, dropped afterwards."""
    with _scratch_database(MYSQL_URL, "MariaDB/MySQL", autocommit=False) as url:
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server at ``SESSREC_TEST_POSTGRES_URL``, dropped afterwards
    (CREATE/DROP DATABASE cannot run inside a transaction there, hence autocommit; FORCE ends
    connections a test left open)."""
    with _scratch_database(POSTGRES_URL, "PostgreSQL", autocommit=True,
                           drop_suffix=" WITH (FORCE)") as url:
        yield url

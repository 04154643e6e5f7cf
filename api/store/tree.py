"""The whole quota tree at one generation, for the scheduler and for caching.

Owns reading the generation together with every department and project. The generation is
read first: on PostgreSQL (read committed) the rows read after it are then at least that
new, so a tree is never labelled with a generation newer than its contents. It must not
write anything.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from api.db.engine import Database
from api.db.models import DepartmentRow, ProjectRow
from api.schemas import QuotaTreeOut
from api.store.common import current_generation
from api.store.render import department_out, project_out

_GENERATION_SQL = "SELECT generation FROM quotient_meta WHERE id = 1"


def generation(db: Database) -> int:
    """The current generation. Every cached read asks this, so it skips the ORM session
    and runs one statement on a pooled driver connection."""
    dbapi_error = db.engine.dialect.loaded_dbapi.Error
    try:
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(_GENERATION_SQL)
            row = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()  # back to the pool, which rolls back whatever the driver began
    except dbapi_error as exc:
        # The raw path skips SQLAlchemy's wrapping; wrap here so outages read the same.
        raise OperationalError(_GENERATION_SQL, None, exc) from exc
    if row is None:
        raise RuntimeError("quotient_meta has no generation row: run `quotient db upgrade`")
    return int(row[0])


async def generation_async(db: Database) -> int:
    """`generation` for async routes. SQLite answers it in microseconds and a WAL reader
    never waits for a lock, so it runs inline; a network database goes to the thread pool
    rather than stall the event loop for a round trip."""
    if db.sqlite:
        return generation(db)
    return await run_in_threadpool(generation, db)


def quota_tree(db: Database) -> QuotaTreeOut:
    with db.read() as session:
        gen = current_generation(session)
        departments = session.scalars(select(DepartmentRow).order_by(DepartmentRow.name))
        dept_out = [department_out(r) for r in departments]
        projects = session.scalars(select(ProjectRow).order_by(ProjectRow.name))
        return QuotaTreeOut(
            generation=gen, departments=dept_out, projects=[project_out(r) for r in projects]
        )

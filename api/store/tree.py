"""The whole quota tree at one generation, for the scheduler and for caching.

Owns reading the generation together with every department and project. The generation is
read first: on PostgreSQL (read committed) the rows read after it are then at least that
new, so a tree is never labelled with a generation newer than its contents. It must not
write anything.
"""

from __future__ import annotations

from sqlalchemy import select

from api.db.engine import Database
from api.db.models import DepartmentRow, ProjectRow
from api.schemas import QuotaTreeOut
from api.store.common import current_generation
from api.store.render import department_out, project_out


def generation(db: Database) -> int:
    with db.read() as session:
        return current_generation(session)


def quota_tree(db: Database) -> QuotaTreeOut:
    with db.read() as session:
        gen = current_generation(session)
        departments = session.scalars(select(DepartmentRow).order_by(DepartmentRow.name))
        dept_out = [department_out(r) for r in departments]
        projects = session.scalars(select(ProjectRow).order_by(ProjectRow.name))
        return QuotaTreeOut(
            generation=gen, departments=dept_out, projects=[project_out(r) for r in projects]
        )

"""Scoped roles in the store: what a department-admin or a project-editor may change.

Owns Run:ai's access rule (subject x role x scope) for writes: a `department-admin` of D
changes departments strictly under D and projects anywhere in D's subtree, and may not
move anything out of it (or in from outside); a `project-editor` of P changes P's own
fields, but does not create, delete or move projects, nor touch departments. The route has
already admitted the role; this runs inside the write, against the tree as it is now. It
must not check anything but scope (rules.py checks the tree's own rules).
"""

from __future__ import annotations

from api.auth import Role
from api.errors import ApiError
from api.store import rules
from api.store.common import WriteContext


def authorize(ctx: WriteContext, action: str, kind: str, name: str, *places: str | None) -> None:
    """403 unless the caller's scope covers this write; `places` are the departments the
    object sits under before and after it (a department's parent, a project's department)."""
    who = ctx.who
    if who is None or who.scope is None:
        return  # unscoped roles: the route's role check was the whole rule
    if who.role is Role.PROJECT_EDITOR:
        if kind == "project" and name == who.scope and action == "update" and len(set(places)) == 1:
            return
        raise ApiError(
            403,
            f"role project-editor of project {who.scope!r} may only change that project's "
            f"fields, not {action} {kind} {name!r}"
            + (" nor move it to another department" if name == who.scope else "")
            + "; that needs role admin, or department-admin of a department above it",
        )
    parents = rules.parents_of(ctx.session)
    for place in places:
        if not _within(parents, place, who.scope):
            where = "the top level" if place is None else f"department {place!r}"
            raise ApiError(
                403,
                f"role department-admin of department {who.scope!r} may not {action} {kind} "
                f"{name!r}: {where} is outside {who.scope!r}; that needs role admin, or "
                "department-admin of a department above both",
            )


def _within(parents: dict[str, str | None], department: str | None, top: str) -> bool:
    seen = 0
    while department is not None and seen <= len(parents):
        if department == top:
            return True
        department, seen = parents.get(department), seen + 1
    return False

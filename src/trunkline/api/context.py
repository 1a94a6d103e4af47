"""The caller's context, built once per request: from the no-auth headers (an admin, as in
Neutron's ``noauth`` mode) or from a validated Keystone token; and the credentials dict the
policy engine checks rules against."""
from trunkline.plugins.common import DEFAULT_PROJECT, Context

ADMIN_ROLES = ("admin", "member", "reader")


def noauth(headers, request_id):
    """No-auth mode: the project from ``X-Project-Id`` (else the fixed default), always admin."""
    return Context(project_id=headers.get("x-project-id") or DEFAULT_PROJECT, is_admin=True,
                   request_id=request_id, roles=ADMIN_ROLES)


def from_token(token, request_id, is_admin):
    """A Keystone v3 token body (``GET /v3/auth/tokens``'s ``token``). ``is_admin`` is the
    policy's ``context_is_admin`` verdict, which the caller computes with ``creds``."""
    project = token.get("project") or {}
    system = token.get("system") or {}
    return Context(project_id=project.get("id", ""), project_name=project.get("name", ""),
                   user_id=(token.get("user") or {}).get("id", ""),
                   roles=tuple(r["name"].lower() for r in token.get("roles") or ()),
                   system_scope="all" if system.get("all") else "",
                   is_admin=is_admin, request_id=request_id)


def creds(ctx):
    """What oslo.policy's checks read (``role:``, ``project_id:``, ``tenant_id:`` ...)."""
    return {"user_id": ctx.user_id, "project_id": ctx.project_id or None,
            "tenant_id": ctx.project_id or None, "roles": list(ctx.roles),
            "system_scope": ctx.system_scope or None, "is_admin": ctx.is_admin,
            "project_name": ctx.project_name}

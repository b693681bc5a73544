"""Staff roles and the sets of them that open each part of the staff side; routes and the curation
workflow name a set, never a role (bot/access.py checks them per request, knowledge_base.curation
per action).

    helper    在线帮办: the helpdesk console (queue, live chat, 沉淀到知识库 drafts)
    editor    知识库维护: browse, edit and submit drafts, worklists, import check, export
    reviewer  知识库审核: everything an editor does, plus approve/reject, rollback, archive, import,
              retrain, and the analytics page (数据分析, bot/analytics.py)
    admin     everything above
"""

from __future__ import annotations

ROLES = ("helper", "editor", "reviewer", "admin")

HELPDESK = frozenset({"helper", "admin"})
CURATION = frozenset({"editor", "reviewer", "admin"})
REVIEW = frozenset({"reviewer", "admin"})
ANALYTICS = frozenset({"reviewer", "admin"})
ADMIN = frozenset({"admin"})
STAFF = HELPDESK | CURATION  # who may log in, ask who they are and log out

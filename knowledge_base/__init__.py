"""济时办 knowledge base: curated service guides, Q&A and service centres, and search over them.

from knowledge_base import KnowledgeBase
kb = KnowledgeBase.open()            # settings from the environment (knowledge_base.settings)
hits = await kb.search("办营业执照要带什么材料")
text = kb.element(hits[0].id, "materials")
"""

from .kb import KnowledgeBase
from .loader import KnowledgeBaseError, Problem
from .search.base import SearchBackend, SearchHit

__all__ = ["KnowledgeBase", "KnowledgeBaseError", "Problem", "SearchBackend", "SearchHit"]

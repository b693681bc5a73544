"""The Elasticsearch backend: the embedded backend's ranking on a cluster, never in a citizen's way.

- Queries go to the alias `<prefix>` with a short timeout (KB_ES_TIMEOUT).  When the cluster is
  unreachable, slow, rejects the credentials or lacks the index, the query is answered by the
  fallback instead: the embedded backend, always current because the store writes each entry's
  search terms in the transaction that writes the entry.  A warning is logged once per outage and
  `health()` says what is wrong.  No error of the cluster ever reaches the caller.
- Health is checked at start and every KB_ES_HEALTH_INTERVAL seconds.  Changes published while
  the cluster is away are remembered by id; when it is back they are written, the whole index is
  compared with the store (version stamps, so changes made by other processes are caught too),
  and only then does the cluster answer queries again.  A missing index, one of an older schema or
  one built for a much smaller store is rebuilt in full.
- A full reindex fills a new physical index and moves the alias in one `update_aliases` call, so
  no query ever sees a half-built index.  See elastic_index.py for the index layout and ranking.

The store stays the source of truth: everything written to Elasticsearch is read from it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    AuthenticationException,
    AuthorizationException,
    ConnectionTimeout,
    NotFoundError,
    SSLError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionError as ClusterConnectionError
from elasticsearch.helpers import async_scan, async_streaming_bulk
from tqdm import tqdm

from ..documents import to_document
from ..models import Entry
from ..settings import Settings
from ..store import Store
from .base import SearchBackend, SearchHit, prepare_query
from .dense import DenseStage, fetch_depth, post_retrieval
from .elastic_index import (
    SCHEMA_VERSION,
    SCORE_SCALE,
    check_prefix,
    es_document,
    field_averages,
    field_terms,
    index_body,
    new_index_name,
    physical_pattern,
    query_body,
    ranking_signature,
    store_documents,
    store_stamps,
)
from .embedded import candidate_of, load_rows
from .hits import make_hit
from .rerank import Candidate, Families, is_title_only, load_families

log = logging.getLogger(__name__)

SYNC_TIMEOUT = 60.0  # seconds for bulk writes, scans and index administration (not citizen-facing)
BULK_CHUNK = 500  # entries per bulk request (about 1.3 MB with the curated data)
BULK_BYTES = 10 * 1024 * 1024
MAX_PENDING = 5_000  # more changes than this while away: compare the whole store instead of replaying ids
REBUILD_DRIFT = 0.2  # rebuild at start when the store grew/shrank this much since the index was built
MAX_TOP_K = 1_000


class ElasticsearchUnavailableError(RuntimeError):
    """For operators only (the reindex command): the message says what to fix."""


class BulkWriteError(RuntimeError):
    def __init__(self, failures: list[Mapping[str, Any]]) -> None:
        first = failures[0].get("error") or {}
        self.error_type = str(first.get("type", "")) if isinstance(first, Mapping) else ""
        reason = first.get("reason", first) if isinstance(first, Mapping) else first
        super().__init__(f"{len(failures)} document(s) rejected, first: {self.error_type or 'error'}: {reason}")


@dataclass(frozen=True)
class LiveIndex:
    name: str
    schema: int | None
    ranking: dict[str, Any]  # the ranking parameters its `weighted` field was computed with
    averages: dict[str, float]  # the store's mean field lengths when it was built
    entries: int  # how many entries the store held when it was built


def redact(url: str) -> str:
    """The URL without a password, for logs and health reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def make_client(settings: Settings) -> AsyncElasticsearch:
    """A client for the configured cluster; ValueError with a clear message when misconfigured."""
    url = settings.es_url
    if not url:
        raise ValueError("KB_BACKEND=elasticsearch needs KB_ES_URL, e.g. https://es.example.org:9200")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"KB_ES_URL {redact(url)!r} is not an http(s) URL such as https://es.example.org:9200")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"KB_ES_URL {redact(url)!r} has an invalid port") from None
    options: dict[str, Any] = {"request_timeout": settings.es_timeout, "max_retries": 0, "retry_on_timeout": False}
    if settings.es_api_key:
        options["api_key"] = settings.es_api_key
    elif settings.es_user:
        options["basic_auth"] = (settings.es_user, settings.es_password or "")
    if settings.es_ca:
        if not Path(settings.es_ca).is_file():
            raise ValueError(f"KB_ES_CA {settings.es_ca!r}: no such file (the cluster's CA certificate, PEM)")
        options["ca_certs"] = settings.es_ca
    return AsyncElasticsearch(url, **options)


def describe(error: BaseException, url: str, alias: str, timeout: float) -> str:
    """What went wrong, in words an operator can act on."""
    if isinstance(error, ConnectionTimeout):
        return f"no answer from {url} within {timeout:g} s"
    if isinstance(error, SSLError):
        return f"TLS with {url} failed ({error}); check KB_ES_CA"
    if isinstance(error, ClusterConnectionError):
        return f"cannot connect to {url}"
    if isinstance(error, AuthenticationException):
        return f"{url} rejected the credentials (HTTP 401): check KB_ES_USER/KB_ES_PASSWORD or KB_ES_API_KEY"
    if isinstance(error, AuthorizationException):
        return f"the configured user may not use the indices {alias}* on {url} (HTTP 403)"
    if isinstance(error, UnsupportedProductError):
        return f"{url} is not an Elasticsearch 8 compatible server"
    if isinstance(error, NotFoundError):
        return f"index {alias} is missing on {url}"
    if isinstance(error, ApiError):
        return f"{url} answered HTTP {error.status_code} ({error.error})"
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer from {url} within {timeout:g} s"
    return f"{type(error).__name__}: {error}"


class ElasticsearchSearch:
    name = "elasticsearch"

    def __init__(
        self,
        client: AsyncElasticsearch | None,
        store: Store,
        fallback: SearchBackend,
        *,
        prefix: str = "jsb-kb",
        url: str = "",
        query_timeout: float = 2.0,
        health_interval: float = 15.0,
        problem: str | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.fallback = fallback
        self.alias = prefix
        self.url = redact(url)
        self.query_timeout = query_timeout
        self.health_interval = health_interval
        self._problem = problem  # misconfigured: the cluster is never tried
        self._healthy = False  # the cluster answered the last request
        self._in_sync = False  # the index holds what the store holds (checked, nothing pending)
        self._reason: str | None = problem or "not checked yet"
        self._live_index: str | None = None
        self._averages: dict[str, float] = {}  # the live index's field lengths, for new documents
        self._pending: set[str] = set()  # ids changed while the cluster could not be written
        self._pending_overflow = False
        self._reindexing = False
        self._last_check: float | None = None
        self._served = {"elasticsearch": 0, "embedded": 0}
        self._sync_lock = asyncio.Lock()  # one catch-up / reindex at a time
        self._start_task: asyncio.Task[None] | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        # Each entry's family (a Q&A's guide) for search/rerank.py, per store generation.
        self._families: Families | None = None
        self._families_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, fallback: SearchBackend) -> ElasticsearchSearch:
        """Never raises for a bad configuration: it is logged and every query uses the fallback."""
        store: Store = fallback.store  # type: ignore[attr-defined]  # the embedded backend's store
        common = {"url": settings.es_url or "", "query_timeout": settings.es_timeout}
        try:
            prefix = check_prefix(settings.es_index_prefix)
            client = make_client(settings)
        except (ValueError, TypeError, OSError) as error:
            log.error("Elasticsearch backend misconfigured: %s. Answering from the embedded index.", error)
            return cls(
                None, store, fallback, prefix=settings.es_index_prefix, problem=f"misconfigured: {error}", **common
            )
        return cls(client, store, fallback, prefix=prefix, health_interval=settings.es_health_interval, **common)

    # -- what callers use ----------------------------------------------------------------------
    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        if top_k <= 0:
            return []
        terms = await asyncio.to_thread(prepare_query, query)
        if not terms:
            return []
        if await self._ready_for_queries():
            try:
                hits = await self._search_cluster(query, terms, min(top_k, MAX_TOP_K), kinds)
            except Exception as error:  # whatever the cluster did, the citizen gets an answer
                self._query_failed(error)
            else:
                self._served["elasticsearch"] += 1
                return hits
        self._served["embedded"] += 1
        return await self.fallback.search(query, top_k=top_k, kinds=kinds)

    async def index(self, entries: Sequence[Entry]) -> None:
        """Write these entries (as the store now holds them) to the index, or remember them."""
        if entries and self.client is not None:
            await self.start()
            await self._write_or_remember([e.id for e in entries], extra={e.id: e for e in entries})
        await self._refresh_vectors()

    async def remove(self, ids: Sequence[str]) -> None:
        if ids and self.client is not None:
            await self.start()
            await self._write_or_remember(list(ids), delete=True)
        await self._refresh_vectors()

    async def _refresh_vectors(self) -> None:
        """The shared sentence vectors (the fallback's dense stage), encoded at publish time."""
        refresh = getattr(self.fallback, "refresh_vectors", None)
        if refresh is not None:
            await refresh()

    async def start(self) -> None:
        """Check the cluster and bring the index up to date (done once; later calls wait for it)."""
        if self.client is not None:
            await asyncio.shield(self._start_in_background())

    async def check_health(self) -> dict[str, Any]:
        """Check the cluster now (catching up if it is back) and report."""
        if self.client is not None:
            await self.start()
            await self._check(compare_all=not self._serving())
        return self.health()

    def health(self) -> dict[str, Any]:
        """A snapshot for /health endpoints and operators."""
        last = self._last_check
        return {
            "backend": self.name,
            "serving": "elasticsearch" if self._serving() else "embedded",
            "healthy": self._healthy,
            "in_sync": self._in_sync,
            "reason": self._reason,
            "url": self.url,
            "alias": self.alias,
            "index": self._live_index,
            "pending": len(self._pending),
            "pending_overflow": self._pending_overflow,
            "reindexing": self._reindexing,
            "last_check": datetime.fromtimestamp(last, timezone.utc).isoformat(timespec="seconds") if last else None,
            "queries": dict(self._served),
        }

    async def reindex(self, progress: bool = True) -> str:
        """Rebuild the whole index from the store and swap the alias; returns the new index name.

        For operators: raises ElasticsearchUnavailableError saying what is wrong."""
        if self.client is None:
            raise ElasticsearchUnavailableError(self._reason or "no cluster configured")
        try:
            async with self._sync_lock:
                name = await self._rebuild(progress)
                await self._declare_in_sync()
        except Exception as error:
            self._mark_unavailable(error)
            raise ElasticsearchUnavailableError(self._reason or str(error)) from error
        return name

    async def reconcile(self) -> int:
        """Compare the whole index with the store now and fix what differs; returns how many
        entries were written or deleted.  For operators: raises ElasticsearchUnavailableError."""
        if self.client is None:
            raise ElasticsearchUnavailableError(self._reason or "no cluster configured")
        try:
            async with self._sync_lock:
                if await self._read_live_index() is None:
                    raise ElasticsearchUnavailableError(f"index {self.alias} does not exist yet: run a reindex")
                return await self._reconcile()
        except ElasticsearchUnavailableError:
            raise
        except Exception as error:
            self._mark_unavailable(error)
            raise ElasticsearchUnavailableError(self._reason or str(error)) from error

    async def close(self) -> None:
        tasks = [t for t in (self._monitor_task, self._start_task) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._pending or self._pending_overflow:
            log.warning(
                "%s change(s) are not in Elasticsearch yet; they are indexed when the knowledge base next starts",
                "many" if self._pending_overflow else len(self._pending),
            )
        if self.client is not None:
            await self.client.close()
        await self.fallback.close()

    # -- queries -------------------------------------------------------------------------------
    def _serving(self) -> bool:
        return self._problem is None and self._healthy and self._in_sync

    async def _ready_for_queries(self) -> bool:
        if self.client is None:
            return False
        task = self._start_in_background()
        if not task.done():  # the first query waits a moment for the start-up check, not longer
            try:
                await asyncio.wait_for(asyncio.shield(task), self.query_timeout)
            except asyncio.TimeoutError:
                return False
        return self._serving()

    async def _search_cluster(
        self, query: str, terms: list[str], top_k: int, kinds: Sequence[str] | None
    ) -> list[SearchHit]:
        assert self.client is not None
        response = await self.client.options(request_timeout=self.query_timeout).search(
            index=self.alias, **query_body(terms, fetch_depth(top_k, self.dense), kinds)
        )
        return await asyncio.to_thread(self._to_hits, response["hits"]["hits"], query, terms, top_k, kinds)

    @property
    def dense(self) -> DenseStage | None:
        """The embedded fallback's sentence-vector stage (one per store), the same post-retrieval
        step for both backends."""
        return getattr(self.fallback, "dense", None)

    def families(self) -> Families:
        """Every entry's family, read again from the store when it changed (one small SQL read to
        check; a reload reads one column of the entries table)."""
        families = self._families
        if families is not None and families.generation == self.store.generation():
            return families
        with self._families_lock:
            families = self._families
            if families is None or families.generation != self.store.generation():
                families = self._families = load_families(self.store)
        return families

    def _to_hits(
        self,
        raw_hits: Iterable[Mapping[str, Any]],
        query: str,
        terms: list[str],
        top_k: int,
        kinds: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        families = self.families()
        rows: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        candidates = []
        for raw in raw_hits:
            source = raw["_source"]
            row = {
                "id": source["id"],
                "kind": source["kind"],
                "domain": source["domain"],
                "title": source["display_title"],
                "answer": source["answer"],
            }
            rows[row["id"]] = (row, field_terms(source))
            # Rescaled to the embedded backend's scale (see elastic_index.py).
            score = float(raw["_score"]) * SCORE_SCALE
            field_terms_of_row = rows[row["id"]][1]
            candidates.append(
                Candidate(
                    row["id"],
                    row["kind"],
                    families.of(row["id"]),
                    field_terms_of_row["title"],
                    score,
                    is_title_only(row["kind"], field_terms_of_row),
                )
            )

        def recall(ids: Sequence[str]) -> list[Candidate]:
            """Entries the dense stage found and the cluster did not return: their rows come from
            the store (one small read), their lexical score is 0, as in the embedded backend."""
            found = []
            for index_row in load_rows(self.store, ids):
                if kinds and index_row.kind not in kinds:
                    continue
                shown = {
                    "id": index_row.id,
                    "kind": index_row.kind,
                    "domain": index_row.domain,
                    "title": index_row.title,
                    "answer": index_row.answer,
                }
                rows[index_row.id] = (shown, index_row.field_terms)
                found.append(candidate_of(index_row, 0.0))
            by_id = {c.id: c for c in found}
            return [by_id[i] for i in ids if i in by_id]  # nearest first, as asked

        hits = []
        for candidate in post_retrieval(query, terms, candidates, self.dense, recall)[:top_k]:
            row, terms_of_row = rows[candidate.id]
            hits.append(make_hit(row, terms_of_row, terms, candidate.score))
        return hits

    def _query_failed(self, error: Exception) -> None:
        if isinstance(error, ApiError) and error.status_code == 400:
            # The cluster rejected the query itself (not an outage): answer from the fallback.
            log.error("Elasticsearch rejected a query (%s); answered from the embedded index", error.error)
            return
        self._mark_unavailable(error)

    # -- health --------------------------------------------------------------------------------
    def _start_in_background(self) -> asyncio.Task[None]:
        if self._start_task is None:
            self._start_task = asyncio.get_running_loop().create_task(self._start())
        return self._start_task

    async def _start(self) -> None:
        await self._check(compare_all=True)
        self._monitor_task = asyncio.get_running_loop().create_task(self._monitor())

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                await self._check(compare_all=not self._serving())
            except Exception:  # a bug here must not end the monitoring
                log.exception("Elasticsearch health check failed unexpectedly")

    async def _check(self, compare_all: bool) -> None:
        """Probe the cluster; when it answers, catch up with the store if needed."""
        assert self.client is not None
        self._last_check = time.time()
        try:
            await self.client.options(request_timeout=self.query_timeout, ignore_status=404).search(
                index=self.alias, size=0, track_total_hits=False
            )
            if compare_all or self._pending or self._pending_overflow or not self._serving():
                await self._catch_up(compare_all)
        except Exception as error:
            self._mark_unavailable(error)

    def _mark_unavailable(self, error: BaseException) -> None:
        reason = describe(error, self.url, self.alias, self.query_timeout)
        if self._healthy or reason != self._reason:
            log.warning("Elasticsearch unavailable: %s. Answering from the embedded index until it is back.", reason)
        self._healthy = self._in_sync = False
        self._reason = reason

    async def _declare_in_sync(self) -> None:
        # Changes may have been remembered while we awaited; write them first.  No await between
        # the last emptiness check and setting the flags, so nothing slips in between.
        while self._pending or self._pending_overflow:
            if self._pending_overflow:  # too many to remember: compare everything instead
                self._pending_overflow = False
                await self._reconcile()
            else:
                await self._flush_pending()
        was_serving = self._serving()
        self._healthy = self._in_sync = True
        self._reason = None
        if not was_serving:
            log.info("Elasticsearch at %s is answering queries (index %s)", self.url, self._live_index)

    # -- keeping the index in step with the store ----------------------------------------------
    @property
    def _admin(self) -> AsyncElasticsearch:
        assert self.client is not None
        return self.client.options(request_timeout=SYNC_TIMEOUT, max_retries=2, retry_on_timeout=True)

    async def _catch_up(self, compare_all: bool) -> None:
        async with self._sync_lock:
            live = await self._read_live_index()
            why = self._rebuild_reason(live) if compare_all else None if live else "the index is missing"
            if why:
                log.info("Elasticsearch: rebuilding the index because %s", why)
                await self._rebuild(progress=False)
            else:
                await self._flush_pending()
                if compare_all:
                    await self._reconcile()
            await self._declare_in_sync()

    def _rebuild_reason(self, live: LiveIndex | None) -> str | None:
        if live is None:
            return "the index is missing"
        if live.schema != SCHEMA_VERSION:
            return f"it has schema {live.schema}, this version writes schema {SCHEMA_VERSION}"
        if live.ranking != ranking_signature():
            return f"it was built with the ranking parameters {live.ranking}, now they are {ranking_signature()}"
        count = len(store_stamps(self.store))
        if abs(count - live.entries) > REBUILD_DRIFT * max(live.entries, 1):
            return f"it was built for {live.entries} entries and the store holds {count} (ranking statistics)"
        return None

    async def _read_live_index(self) -> LiveIndex | None:
        try:
            aliases = await self._admin.indices.get_alias(name=self.alias)
        except NotFoundError:
            self._live_index = None
            return None
        name = max(aliases.body)  # one index holds the alias; the newest if a swap raced
        mapping = await self._admin.indices.get_mapping(index=name)
        meta = mapping.body[name]["mappings"].get("_meta", {})
        averages = {str(k): float(v) for k, v in meta.get("averages", {}).items()}
        self._use_index(name, averages)
        return LiveIndex(name, meta.get("schema"), meta.get("ranking", {}), averages, int(meta.get("entries", 0)))

    def _use_index(self, name: str, averages: dict[str, float]) -> None:
        self._live_index = name
        self._averages = averages

    async def _write_or_remember(
        self, ids: list[str], extra: Mapping[str, Entry] | None = None, delete: bool = False
    ) -> None:
        if not self._serving():
            self._remember(ids)
            return
        try:
            await self._write(ids, extra=extra, delete=delete)
        except Exception as error:
            self._remember(ids)
            self._mark_unavailable(error)

    def _remember(self, ids: Iterable[str]) -> None:
        self._pending.update(ids)
        if len(self._pending) > MAX_PENDING:  # the catch-up compares the whole store instead
            self._pending.clear()
            self._pending_overflow = True

    async def _flush_pending(self) -> None:
        ids = list(self._pending)
        self._pending.difference_update(ids)
        try:
            await self._write(ids)
        except BaseException:
            self._pending.update(ids)
            raise

    def _actions(
        self,
        index: str,
        ids: Sequence[str] | None,
        extra: Mapping[str, Entry] | None = None,
        delete: bool = False,
        averages: Mapping[str, float] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Bulk actions bringing `ids` (None: every entry) in `index` to the store's state."""
        if delete:
            for entry_id in ids or ():
                yield {"_op_type": "delete", "_index": index, "_id": entry_id}
            return
        written: set[str] = set()
        # Documents for the live index use its field averages; a rebuild passes fresh ones.
        averages = self._averages if averages is None else averages
        for entry_id, doc in store_documents(self.store, averages, ids):
            written.add(entry_id)
            yield {"_op_type": "index", "_index": index, "_id": entry_id, "_source": doc}
        for entry_id in ids or ():
            if entry_id in written:
                continue
            entry = (extra or {}).get(entry_id)
            if entry is None:  # gone from the store
                yield {"_op_type": "delete", "_index": index, "_id": entry_id}
            else:  # indexed by a caller without the store: until the next comparison with the store
                doc = to_document(entry)
                yield {
                    "_op_type": "index",
                    "_index": index,
                    "_id": entry_id,
                    "_source": es_document(doc, doc.terms(), None, averages),
                }

    async def _write(self, ids: Sequence[str], extra: Mapping[str, Entry] | None = None, delete: bool = False) -> None:
        """Bring these ids up to date through the alias and make them searchable at once."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        actions = self._actions(self.alias, ids, extra, delete)
        # require_alias: never let a write auto-create a plain index named like the alias.
        await self._bulk(actions, total=len(ids), progress=len(ids) >= 1000, require_alias=True)
        await self._admin.indices.refresh(index=self.alias)

    async def _bulk(self, actions: Iterable[dict[str, Any]], total: int, progress: bool, **bulk_args: Any) -> None:
        failures: list[Mapping[str, Any]] = []
        desc = f"Elasticsearch {self.alias}"
        with tqdm(total=total, desc=desc, unit=" entries", disable=None if progress else True) as bar:
            async for ok, item in async_streaming_bulk(
                self._admin,
                actions,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=BULK_BYTES,
                raise_on_error=False,
                max_retries=2,
                **bulk_args,
            ):
                bar.update(1)
                if ok:
                    continue
                op, info = next(iter(item.items()))
                if op == "delete" and info.get("status") == 404:  # already gone
                    continue
                failures.append(info)
        if failures:
            raise BulkWriteError(failures)

    async def _reconcile(self) -> int:
        """Compare every entry's stamp in the index with the store and fix the differences."""
        indexed: dict[str, str] = {}
        body = {"query": {"match_all": {}}, "_source": ["stamp"]}
        async for hit in async_scan(self._admin, query=body, index=self.alias, size=5000):
            indexed[hit["_id"]] = hit.get("_source", {}).get("stamp", "")
        # The store is read after the index: an entry added in between is then indexed, never
        # mistaken for one that was deleted.
        stored = await asyncio.to_thread(store_stamps, self.store)
        stale = [entry_id for entry_id, stamp in stored.items() if indexed.get(entry_id) != stamp]
        gone = [entry_id for entry_id in indexed if entry_id not in stored]
        if stale or gone:
            log.info(
                "Elasticsearch: %d entries to update and %d to delete after comparing with the store",
                len(stale),
                len(gone),
            )
            await self._write(stale + gone)
        return len(stale) + len(gone)

    async def _rebuild(self, progress: bool) -> str:
        """Fill a new physical index from the store, swap the alias to it, drop older ones."""
        name = new_index_name(self.alias)
        averages = await asyncio.to_thread(field_averages, self.store)
        total = len(await asyncio.to_thread(store_stamps, self.store))
        body = index_body(averages, total)
        body["settings"]["index"]["refresh_interval"] = "-1"  # nobody searches it before the swap
        self._reindexing = True
        try:
            await self._admin.indices.create(index=name, **body)
            try:
                await self._bulk(self._actions(name, None, averages=averages), total=total, progress=progress)
                await self._admin.indices.put_settings(index=name, settings={"index": {"refresh_interval": None}})
                await self._admin.indices.refresh(index=name)
                await self._swap_alias(name)
            except BaseException:
                await self._delete_quietly(name)
                raise
        finally:
            self._reindexing = False
        self._use_index(name, averages)
        log.info("Elasticsearch: alias %s now points at %s (%d entries)", self.alias, name, total)
        await self._delete_older(name)
        await self._reconcile()  # entries published while the new index was filling
        return name

    async def _alias_holders(self) -> list[str]:
        try:
            return list((await self._admin.indices.get_alias(name=self.alias)).body)
        except NotFoundError:
            return []

    async def _swap_alias(self, name: str) -> None:
        for attempt in (1, 2):  # a second try if another process moved the alias meanwhile
            holders = await self._alias_holders()
            actions = [{"remove": {"index": old, "alias": self.alias}} for old in holders]
            actions.append({"add": {"index": name, "alias": self.alias}})
            try:
                await self._admin.indices.update_aliases(actions=actions)
                return
            except NotFoundError:
                if attempt == 2:
                    raise

    async def _delete_older(self, keep: str) -> None:
        """Drop this prefix's physical indices older than `keep` that hold no alias (newer ones may
        be filling in another process)."""
        try:
            names = list((await self._admin.indices.get(index=physical_pattern(self.alias))).body)
            live = set(await self._alias_holders())
            old = [n for n in names if n < keep and n not in live]
            if old:
                await self._admin.indices.delete(index=old)
        except Exception as error:  # leftovers cost disk space only; the next reindex tries again
            log.warning("Elasticsearch: could not delete old indices: %s", error)

    async def _delete_quietly(self, name: str) -> None:
        try:
            await self._admin.options(ignore_status=404).indices.delete(index=name)
        except Exception as error:
            log.warning("Elasticsearch: could not delete the unfinished index %s: %s", name, error)

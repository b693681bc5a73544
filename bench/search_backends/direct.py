"""Reaching the OpenSearch test node without its compatibility proxy, for latency measurements.

The proxy of ../shared/opensearch (es8_compat_proxy.py) writes each answer's headers and body in
two TCP sends; with Nagle's algorithm on its socket and delayed ACKs on ours, every request then
waits about 40 ms (measured: 44 ms per round trip through the proxy, 0.9 ms to the node's own
port).  A real Elasticsearch 8 cluster has no such proxy, so the benchmark talks to the node's raw
port with a client node that does the proxy's two rewrites in-process: ES-8 versioned media types
become plain JSON, and answers get the `X-Elastic-Product` header the client checks for.  All the
search work is still done by the real engine over HTTP.
"""

from __future__ import annotations

import re
from typing import Any

from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT
from elasticsearch import AsyncElasticsearch

_VERSIONED = re.compile(r"application/vnd\.elasticsearch\+(json|x-ndjson)[^,]*")


class OpenSearchDirectNode(AiohttpHttpNode):
    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: Any = DEFAULT,
    ) -> NodeApiResponse:
        plain = HttpHeaders()
        for key, value in (headers or {}).items():
            plain[key] = _VERSIONED.sub(lambda m: "application/" + m.group(1), value)
        response = await super().perform_request(method, target, body, plain, request_timeout)
        response.meta.headers["X-Elastic-Product"] = "Elasticsearch"
        return response


def direct_client(raw_url: str, request_timeout: float) -> AsyncElasticsearch:
    return AsyncElasticsearch(
        raw_url, node_class=OpenSearchDirectNode, request_timeout=request_timeout, max_retries=0, retry_on_timeout=False
    )

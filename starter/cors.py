"""CORS for the codec server only: the Temporal Web UI calls `/codec` from the browser, and nothing else in the API
is meant for a browser on another origin (the tracking page is served by the API itself).

Starlette's `CORSMiddleware` applies to every path; `CodecCors` hands it only requests under `/codec`, so a preflight
or a cross-origin answer for any other route gets no `Access-Control-Allow-*` headers.
"""

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec"


class CodecCors:
    """CORS for the Web UI's `origins` on `/codec` and under it; other paths go straight to `app`.

    The preflight (OPTIONS) is answered here without a key, so the browser may then send `Authorization`.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins), allow_methods=["POST"],
                                   allow_headers=["Content-Type", "Authorization", "X-Namespace"],
                                   allow_credentials=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

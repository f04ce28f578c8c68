"""Ask a local OpenAI-compatible server for the context window it really serves.

Servers say it in different places:
- llama.cpp (`llama-server`, and llama-cpp-python's server): `GET <root>/props` ->
  `default_generation_settings.n_ctx` (or a top-level `n_ctx`);
- vLLM: `GET <base>/models` -> the model's `max_model_len`;
- Ollama: `POST <root>/api/show {"model": name}` -> `num_ctx` in `parameters` when the
  Modelfile sets it, else `model_info["<arch>.context_length"]`.
Each probe is short (3 s) and any failure just means "not known here".
Results are cached per (base URL, model) for the life of the process.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROBE_TIMEOUT = 3.0  # seconds, per probe request

_cache: dict[tuple[str, str], tuple[int, str] | None] = {}
_lock = threading.Lock()


def server_root(base_url: str) -> str:
    """`http://host:port/v1` -> `http://host:port` (the root llama.cpp and Ollama use)."""
    parts = urlsplit(base_url.rstrip("/"))
    path = re.sub(r"/v1$", "", parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def probe_context_window(
    base_url: str, model: str, api_key: str | None = None
) -> tuple[int, str] | None:
    """(tokens, source) as the server reports them, or None when it says nothing."""
    key = (base_url, model)
    with _lock:
        if key in _cache:
            return _cache[key]
    found = _probe(base_url, model, api_key)
    with _lock:
        _cache[key] = found
    return found


def forget(base_url: str | None = None) -> None:
    """Drop cached probe results (all, or one server's): the server may have restarted."""
    with _lock:
        for key in [k for k in _cache if base_url is None or k[0] == base_url]:
            del _cache[key]


def _probe(base_url: str, model: str, api_key: str | None) -> tuple[int, str] | None:
    root = server_root(base_url)
    client = _Client(api_key)
    for probe in (_llama_cpp, _vllm, _ollama):
        try:
            found = probe(client, base_url, root, model)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            found = None
        if found is not None:
            return found
    return None


class _Client:
    """Tiny JSON-over-HTTP client on the standard library (no extra dependency)."""

    def __init__(self, api_key: str | None) -> None:
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}

    def get(self, url: str) -> Any:
        return self._call(urllib.request.Request(url, headers=self._headers))

    def post(self, url: str, body: dict[str, Any]) -> Any:
        headers = {**self._headers, "content-type": "application/json"}
        data = json.dumps(body).encode()
        return self._call(urllib.request.Request(url, data=data, headers=headers))

    @staticmethod
    def _call(request: urllib.request.Request) -> Any:
        # One timeout covers connect and each read; a probe must never hold up a turn.
        try:
            with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
                if response.status != 200:
                    return None
                return json.loads(response.read(1_000_000))
        except urllib.error.HTTPError:
            return None


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _llama_cpp(client: Any, base_url: str, root: str, model: str) -> tuple[int, str] | None:
    data = client.get(f"{root}/props")
    if not isinstance(data, dict):
        return None
    settings = data.get("default_generation_settings")
    n_ctx = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    n_ctx = n_ctx or _positive(data.get("n_ctx"))
    return (n_ctx, "server: llama.cpp /props n_ctx") if n_ctx else None


def _vllm(client: Any, base_url: str, root: str, model: str) -> tuple[int, str] | None:
    data = client.get(f"{base_url.rstrip('/')}/models")
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == model:
            length = _positive(entry.get("max_model_len"))
            return (length, "server: /v1/models max_model_len") if length else None
    return None


def _ollama(client: Any, base_url: str, root: str, model: str) -> tuple[int, str] | None:
    data = client.post(f"{root}/api/show", {"model": model})
    if not isinstance(data, dict):
        return None
    # num_ctx is what Ollama really runs with; context_length is what the model was made for.
    match = re.search(r"^\s*num_ctx\s+(\d+)", str(data.get("parameters") or ""), re.MULTILINE)
    if match:
        return int(match.group(1)), "server: Ollama /api/show num_ctx"
    info = data.get("model_info")
    if isinstance(info, dict):
        for name, value in info.items():
            if str(name).endswith(".context_length") and _positive(value):
                return int(value), "server: Ollama /api/show context_length"
    return None

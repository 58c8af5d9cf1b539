"""``GET /docs``: the API reference as one HTML page, rendered on the server from the app's OpenAPI document.

Litestar's documentation UIs (Swagger, ReDoc, Scalar, ...) load their JavaScript from a CDN, which production
clusters cannot reach. This page needs no script and no other file: every operation with its parameters, request
body and responses, and every schema, linked by ``$ref``. The machine-readable document is
``/schema/openapi.json``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from litestar import MediaType, Request, get
from litestar.serialization import encode_json

OPENAPI_JSON = "/schema/openapi.json"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.75rem; overflow-x: auto; }
details { border: 1px solid #ddd; border-radius: 4px; margin: 0.5rem 0; padding: 0.5rem 0.75rem; }
summary { cursor: pointer; }
.method { display: inline-block; min-width: 4.5rem; font-weight: bold; text-transform: uppercase; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }
"""


@get("/docs", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def docs_page(request: Request[Any, Any, Any]) -> str:
    # Through JSON, as /schema/openapi.json serves it: the schema's examples may hold Structs.
    return render_docs(json.loads(encode_json(request.app.openapi_schema.to_schema())))


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{_e(info.get('description', ''))}</p>" if info.get("description") else "",
        f"<p>OpenAPI document: <a href='{OPENAPI_JSON}'><code>{OPENAPI_JSON}</code></a></p>",
        "<h2>Operations</h2>",
    ]
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                parts.append(_operation(method, path, item[method]))
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        parts.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            parts.append(f"<h3 id='schema-{_e(name)}'>{_e(name)}</h3>{_json(schema)}")
    parts.append("</body></html>")
    return "".join(parts)


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    parts = [
        f"<details><summary><span class='method'>{_e(method)}</span> <code>{_e(path)}</code> "
        f"{_e(op.get('summary', ''))}</summary>",
    ]
    if op.get("description"):
        parts.append(f"<p>{_e(op['description'])}</p>")
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{_e(p.get('name', ''))}</code></td><td>{_e(p.get('in', ''))}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td><td>{_json(p.get('schema', {}))}</td></tr>"
            for p in op["parameters"]
        )
        parts.append(f"<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>"
                     f"{rows}</table>")
    if op.get("requestBody"):
        parts.append(f"<h4>Request body</h4>{_content(op['requestBody'].get('content', {}))}")
    parts.append("<h4>Responses</h4>")
    for status, response in op.get("responses", {}).items():
        parts.append(f"<p><b>{_e(status)}</b> {_e(response.get('description', ''))}</p>")
        parts.append(_content(response.get("content", {})))
    parts.append("</details>")
    return "".join(parts)


def _content(content: dict[str, Any]) -> str:
    return "".join(
        f"<p><code>{_e(media_type)}</code></p>{_json(body.get('schema', {}))}" for media_type, body in content.items()
    )


def _json(value: Any) -> str:
    """Pretty JSON, with each local ``$ref`` a link to the schema it names."""
    text = _e(json.dumps(value, indent=2, sort_keys=False))
    prefix = _e('"$ref": "#/components/schemas/')
    out, rest = [], text
    while (at := rest.find(prefix)) >= 0:
        end = rest.find(_e('"'), at + len(prefix))
        if end < 0:
            break
        name = rest[at + len(prefix) : end]
        out.append(f"{rest[:at]}{prefix}<a href='#schema-{name}'>{name}</a>")
        rest = rest[end:]
    out.append(rest)
    return f"<pre>{''.join(out)}</pre>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)

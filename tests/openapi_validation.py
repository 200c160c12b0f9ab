"""Check real responses against the app's own OpenAPI 3.0 document.

A response passes only if the document describes it: its path and method, its status code
(exactly, as a range such as `5XX`, or as `default`), a JSON body schema, and that schema
accepts the body. OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few keywords; the one that
changes validation is `nullable: true`, translated here into "or null".

Shared by the suites that check what the app really answers: integration (through LiteLLM),
reliability (under faults) and fuzz (on generated input).
"""

import copy
from dataclasses import dataclass

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

DOCUMENT_URI = "urn:keybuzz:openapi"
# Keys whose values are data, not schemas: never rewritten (unless they name something, below).
_DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const"})
# Keys whose values map names (properties, status codes, media types…) to objects.
_NAME_MAPS = frozenset(
    {"paths", "components", "schemas", "properties", "patternProperties", "responses", "content",
     "headers"}
)  # fmt: skip


@dataclass(frozen=True)
class Exchange:
    """One request we made and the response we got."""

    method: str
    path: str  # without the query string
    status: int
    body: object
    label: str  # what the test did, for the failure message


class OpenApiDocument:
    def __init__(self, document: dict):
        self.document = document
        translated = _nullable_to_json_schema(copy.deepcopy(document))
        self._registry = Registry().with_resource(
            DOCUMENT_URI, Resource(contents=translated, specification=DRAFT4)
        )

    def problems(self, exchange: Exchange) -> list[str]:
        """Why the document does not describe this response (empty when it does)."""
        where = f"{exchange.label}: {exchange.method.upper()} {exchange.path} → {exchange.status}"
        operation = self.document.get("paths", {}).get(exchange.path, {}).get(exchange.method)
        if operation is None:
            return [f"{where}: the operation is not in the schema"]
        responses = operation.get("responses", {})
        status = _documented_status(responses, exchange.status)
        if status is None:
            return [f"{where}: status not documented (documented: {sorted(responses)})"]
        schema = responses[status].get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return [f"{where}: documented under {status!r} without a JSON body schema"]
        pointer = "/".join(
            _escape(part)
            for part in ("paths", exchange.path, exchange.method, "responses", status,
                         "content", "application/json", "schema")
        )  # fmt: skip
        validator = jsonschema.Draft4Validator(
            {"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=self._registry
        )
        return [
            f"{where}: at {'/'.join(map(str, error.absolute_path)) or 'the body'}: {error.message}"
            for error in validator.iter_errors(exchange.body)
        ]


def _documented_status(responses: dict, status: int) -> str | None:
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return key
    return None


def _escape(part: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


def _nullable_to_json_schema(node: object) -> object:
    """Rewrite every schema with `nullable: true` so that it also accepts null."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _translated(key, value) for key, value in node.items()}
    if node.pop("nullable", False) is not True:
        return node
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    if isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        return node
    # $ref (whose siblings draft 4 ignores), allOf/oneOf/anyOf, or no type at all
    return {"anyOf": [node, {"type": "null"}]}


def _translated(key: str, value: object) -> object:
    if key in _NAME_MAPS and isinstance(value, dict):  # its keys are names, not keywords
        return {name: _nullable_to_json_schema(item) for name, item in value.items()}
    if key in _DATA_KEYS:
        return value
    return _nullable_to_json_schema(value)

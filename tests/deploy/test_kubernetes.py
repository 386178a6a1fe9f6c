"""The Kubernetes manifests (deploy/kubernetes/): rendered, validated, and checked for invariants.

No cluster runs here. The suite renders the kustomize base and its overlays with Debian's kubectl
(scripts/install-k8s-tools.sh unpacks it into build/k8s-tools/), validates every object twice,
independently:

  - against strict JSON Schemas of the Kubernetes 1.30 API (tests/deploy/k8s_schema.py, from the
    npm package kubernetes-types 1.30.0: an unknown or misspelt field, a missing required field,
    a wrong basic type, an API version 1.30 does not serve is an error);
  - with the validators generated from the official Kubernetes OpenAPI spec by the npm package
    kubernetes-models (4.5.1: Kubernetes 1.33.0, the nearest line to 1.30; 4.3-4.4 are 1.27.1,
    5.x is 1.36 and needs Node.js 22), run by tests/deploy/validate_models.js: integer vs
    number vs string, enums (imagePullPolicy, protocol), formats (int32, quantity) and required
    fields, but not unknown fields (the OpenAPI schemas allow them);

and checks what the deployment relies on:

  - every Deployment has readiness and liveness probes, requests and limits, and a PDB that
    selects exactly its pods; each executor Deployment has an autoscaling/v2 HPA and a headless
    Service (not-ready pods left out) that the gateway's executor addresses name;
  - NetworkPolicies: default deny; executors accept only the gateway on 8765 and have no egress;
    the gateway reaches only the executors and DNS;
  - terminationGracePeriodSeconds longer than the drains; the executors' memory limit at least
    slots x (CG_MAX_MEMORY_MB + CG_RUN_MEMORY_EXTRA_MB) + CG_EXECUTOR_BASE_MB, read from
    include/protocol.h;
  - the token Secret is mounted where the *_TOKEN_FILE variables point, and the committed value
    is a placeholder both sides refuse (shorter than 16 characters);
  - the security contexts (executor: root, the eight capabilities, no escalation, read-only root,
    RuntimeDefault seccomp; gateway: uid 10001, nothing added), no hostPath, no privileged pod,
    no host namespaces.

Each invariant is a function that raises on a violation; test_invariants_catch_broken_objects
feeds each one a broken copy of the objects and requires it to fail, so a check that cannot fail
fails the suite. Run: /usr/bin/python3 tests/deploy/test_kubernetes.py (ends `N passed, N
failed`); scripts/install-k8s-tools.sh first (the suite runs it when something is missing).
"""
import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

from harness import Runner, check  # noqa: E402

KUBECTL = os.path.join(ROOT, "build", "k8s-tools", "bin", "kubectl")
VALIDATE_MODELS = os.path.join(HERE, "validate_models.js")
MODELS_VERSION = "4.5.1"  # kubernetes-models (tests/deploy/package.json) ...
MODELS_K8S_VERSION = "1.33.0"  # ... generated from this Kubernetes version's OpenAPI spec
K8S_DIR = os.path.join(ROOT, "deploy", "kubernetes")
K8S_VERSION = "1.30.0"  # the API the objects must be valid for (tests/deploy/package.json)
LANGUAGES = ("python", "javascript", "cpp")
EXECUTOR_PORT = 8765
GATEWAY_PORT = 5000
EXECUTOR_CAPS = {"SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER", "SYS_ADMIN",
                 "SYS_CHROOT"}
GATEWAY_UID = 10001
TOKEN_MIN = 16  # executors and gateway refuse shorter tokens
# A SIGKILL must never cut a drain short: the grace period exceeds the drain by this much.
GRACE_MARGIN_MS = 5000

_yaml = None
_catalog = None


def ensure_tools():
    global _yaml, _catalog
    script = os.path.join(ROOT, "scripts", "install-k8s-tools.sh")
    if subprocess.run([script, "--check"], capture_output=True).returncode != 0:
        subprocess.run([script], check=True)
    import yaml
    import k8s_schema
    _yaml = yaml
    _catalog = k8s_schema.Catalog()


def render(path, kubectl=KUBECTL):
    """kubectl kustomize PATH (the project's kubectl unless said): the list of objects."""
    p = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"{kubectl} kustomize {path} failed:\n{p.stderr}")
    return [d for d in _yaml.safe_load_all(p.stdout) if d]


def render_example_overlay(token, kubectl=KUBECTL):
    """The example overlay as committed, in a copy of deploy/kubernetes with a token file."""
    tmp = tempfile.mkdtemp(prefix="cg-k8s-")
    try:
        dst = os.path.join(tmp, "kubernetes")
        shutil.copytree(K8S_DIR, dst)
        with open(os.path.join(dst, "overlays", "example", "executor-token"), "w") as f:
            f.write(token)
        return render(os.path.join(dst, "overlays", "example"), kubectl)
    finally:
        shutil.rmtree(tmp)


def node_bin():
    node = shutil.which("node") or shutil.which("nodejs")
    check(node, "no node on PATH (scripts/install-k8s-tools.sh installs Debian's)")
    return node


def validate_models(objs, modules=None):
    """tests/deploy/validate_models.js on OBJS (JSON on stdin): (exit status, output lines)."""
    cmd = [node_bin(), VALIDATE_MODELS] + (["--modules", modules] if modules else [])
    p = subprocess.run(cmd, input=json.dumps(objs), capture_output=True, text=True, timeout=120)
    check(p.returncode in (0, 1), f"validate_models.js failed to run ({p.returncode}):\n"
          f"{p.stdout}{p.stderr}")
    return p.returncode, p.stdout.splitlines()


def protocol_limits():
    """CG_MAX_MEMORY_MB, CG_RUN_MEMORY_EXTRA_MB, CG_EXECUTOR_BASE_MB from include/protocol.h."""
    with open(os.path.join(ROOT, "include", "protocol.h")) as f:
        text = f.read()
    out = {}
    for name in ("CG_MAX_MEMORY_MB", "CG_RUN_MEMORY_EXTRA_MB", "CG_EXECUTOR_BASE_MB"):
        m = re.search(r"#define %s (\d+)" % name, text)
        check(m, f"{name} not found in include/protocol.h")
        out[name] = int(m.group(1))
    return out


# ---- small helpers over objects ----

def of_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def named(objs, kind, name):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    check(len(found) == 1, f"expected one {kind} {name}, found {len(found)}")
    return found[0]


def matches(selector, labels):
    """A label selector (matchLabels / matchExpressions, or a Service's plain map) vs labels."""
    if selector is None:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def pod_labels(dep):
    return dep["spec"]["template"]["metadata"]["labels"]


def pod_spec(dep):
    return dep["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def executors(objs):
    return [d for d in of_kind(objs, "Deployment")
            if pod_labels(d).get("app.kubernetes.io/component") == "executor"]


def gateway(objs):
    deps = [d for d in of_kind(objs, "Deployment")
            if pod_labels(d).get("app.kubernetes.io/component") == "gateway"]
    check(len(deps) == 1, f"expected one gateway Deployment, found {len(deps)}")
    return deps[0]


def mib(quantity):
    """A memory quantity in MiB (binary and decimal suffixes)."""
    q = str(quantity)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?|[kE]|)", q)
    check(m, f"cannot read memory quantity {q!r}")
    n, unit = float(m.group(1)), m.group(2)
    factor = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024,
              "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}[unit]
    return n * factor / (1024 ** 2)


def millicpu(quantity):
    q = str(quantity)
    return float(q[:-1]) if q.endswith("m") else float(q) * 1000


# ---- invariants: each raises AssertionError on a violation ----

def inv_schema(objs):
    import k8s_schema
    for o in objs:
        errs = k8s_schema.validate(_catalog, o)
        check(not errs, f"{o.get('kind')} {o.get('metadata', {}).get('name')} is not valid "
              f"Kubernetes {_catalog.version}:\n  " + "\n  ".join(errs))


def inv_expected_objects(objs):
    have = {(o["kind"], o["metadata"]["name"]) for o in objs}
    want = {("Namespace", "codegate"), ("Secret", "codegate-executor-token"),
            ("Deployment", "codegate-gateway"), ("Service", "codegate-gateway"),
            ("PodDisruptionBudget", "codegate-gateway"),
            ("NetworkPolicy", "codegate-default-deny")}
    for lang in LANGUAGES:
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            want.add((kind, "codegate-" + lang))
    check(want <= have, f"missing objects: {sorted(want - have)}")
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == "codegate",
                  f"{o['kind']} {o['metadata']['name']} is not in namespace codegate")


def inv_probes_resources(objs):
    for dep in of_kind(objs, "Deployment"):
        name = dep["metadata"]["name"]
        for c in pod_spec(dep)["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                p = c.get(probe)
                check(p and any(k in p for k in ("httpGet", "exec", "tcpSocket", "grpc")),
                      f"{name}/{c['name']}: no {probe}")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    check(r in (res.get(part) or {}), f"{name}/{c['name']}: no {part}.{r}")
            check(mib(res["requests"]["memory"]) <= mib(res["limits"]["memory"]),
                  f"{name}: memory request above its limit")
            check(millicpu(res["requests"]["cpu"]) <= millicpu(res["limits"]["cpu"]),
                  f"{name}: cpu request above its limit")


def inv_pdb_per_deployment(objs):
    deps = of_kind(objs, "Deployment")
    for dep in deps:
        name = dep["metadata"]["name"]
        pdbs = [p for p in of_kind(objs, "PodDisruptionBudget")
                if matches(p["spec"].get("selector"), pod_labels(dep))]
        check(len(pdbs) == 1, f"{name}: {len(pdbs)} PodDisruptionBudgets select its pods")
        pdb = pdbs[0]
        for other in deps:
            if other is not dep:
                check(not matches(pdb["spec"]["selector"], pod_labels(other)),
                      f"PDB {pdb['metadata']['name']} also selects {other['metadata']['name']}")
        spec = pdb["spec"]
        check(("minAvailable" in spec) != ("maxUnavailable" in spec),
              f"PDB {pdb['metadata']['name']}: exactly one of minAvailable/maxUnavailable")


def inv_executor_hpa(objs):
    for dep in executors(objs):
        name = dep["metadata"]["name"]
        hpas = [h for h in of_kind(objs, "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
                and h["spec"]["scaleTargetRef"].get("name") == name]
        check(len(hpas) == 1, f"{name}: {len(hpas)} HorizontalPodAutoscalers")
        hpa = hpas[0]
        check(hpa["apiVersion"] == "autoscaling/v2", f"{name}: HPA is not autoscaling/v2")
        # One pod may be down (PDB maxUnavailable 1, a drain) while another still serves.
        check(hpa["spec"].get("minReplicas", 1) >= 2, f"{name}: HPA minReplicas below 2")
        check(hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"], f"{name}: HPA max < min")
        check(hpa["spec"].get("metrics"), f"{name}: HPA without metrics")
        # A replica count in the Deployment would fight the autoscaler on every apply.
        check("replicas" not in dep["spec"], f"{name}: replicas set although an HPA owns them")


def inv_headless_services(objs):
    gw_env = env_of(pod_spec(gateway(objs))["containers"][0])
    addrs = gw_env.get("CODEGATE_EXECUTOR_ADDRS") or ""
    table = dict(part.split("=", 1) for part in addrs.split(";") if part)
    check(set(table) == set(LANGUAGES), f"CODEGATE_EXECUTOR_ADDRS languages: {sorted(table)}")
    for dep in executors(objs):
        lang = env_of(pod_spec(dep)["containers"][0])["EXECUTOR_LANGUAGE"]
        svcs = [s for s in of_kind(objs, "Service")
                if matches(s["spec"].get("selector"), pod_labels(dep))]
        check(len(svcs) == 1, f"{lang}: {len(svcs)} Services select its executors")
        svc = svcs[0]["spec"]
        check(svc.get("clusterIP") == "None", f"{lang}: Service is not headless")
        check(svc.get("publishNotReadyAddresses", False) is False,
              f"{lang}: Service publishes not-ready executors")
        check([p["port"] for p in svc["ports"]] == [EXECUTOR_PORT], f"{lang}: Service ports")
        for other in executors(objs):
            if other is not dep:
                check(not matches(svc["selector"], pod_labels(other)),
                      f"{lang}: Service also selects {other['metadata']['name']}")
        host, _, port = table[lang].rpartition(":")
        check(host.split(".")[0] == svcs[0]["metadata"]["name"] and port == str(EXECUTOR_PORT),
              f"{lang}: gateway address {table[lang]!r} is not the headless Service")


def inv_gateway_service(objs):
    gw = gateway(objs)
    svcs = [s for s in of_kind(objs, "Service") if matches(s["spec"].get("selector"),
                                                           pod_labels(gw))]
    check(len(svcs) == 1, f"{len(svcs)} Services select the gateway")
    port = svcs[0]["spec"]["ports"][0]
    c = pod_spec(gw)["containers"][0]
    named_ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    target = port.get("targetPort", port["port"])
    check(named_ports.get(target, target) == GATEWAY_PORT, "gateway Service misses port 5000")
    check(env_of(c).get("CODEGATE_BIND") == "0.0.0.0", "gateway not bound to 0.0.0.0")


def policies_for(objs, labels):
    return [p for p in of_kind(objs, "NetworkPolicy") if matches(p["spec"]["podSelector"], labels)]


def peer_is_only(peer, labels, objs):
    """A NetworkPolicy peer that is exactly the pods with these labels in this namespace."""
    if set(peer) != {"podSelector"}:
        return False
    return matches(peer["podSelector"], labels) and not any(
        matches(peer["podSelector"], pod_labels(d)) for d in of_kind(objs, "Deployment")
        if pod_labels(d) != labels and pod_labels(d).get("app.kubernetes.io/component")
        != labels.get("app.kubernetes.io/component"))


def ports_of(rule):
    return sorted((p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports") or [])


def inv_network_policies(objs):
    deny = [p for p in of_kind(objs, "NetworkPolicy") if p["spec"]["podSelector"] in ({}, None)
            and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    check(deny, "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
    gw_labels = pod_labels(gateway(objs))
    for dep in executors(objs):
        name = dep["metadata"]["name"]
        pols = policies_for(objs, pod_labels(dep))
        for p in pols:
            types = set(p["spec"].get("policyTypes") or [])
            check("Egress" in types and not p["spec"].get("egress"),
                  f"{name}: NetworkPolicy {p['metadata']['name']} allows egress")
            for rule in p["spec"].get("ingress") or []:
                check(rule.get("from") and all(peer_is_only(peer, gw_labels, objs)
                                               for peer in rule["from"]),
                      f"{name}: ingress from more than the gateway pods "
                      f"({p['metadata']['name']})")
                check(ports_of(rule) == [("TCP", EXECUTOR_PORT)],
                      f"{name}: ingress on ports {ports_of(rule)}")
        check(any(p["spec"].get("ingress") for p in pols), f"{name}: the gateway cannot reach it")
    gw_pols = policies_for(objs, gw_labels)
    egress = [r for p in gw_pols for r in p["spec"].get("egress") or []]
    ex_labels = pod_labels(executors(objs)[0])
    for rule in egress:
        to = rule.get("to") or []
        check(to, "gateway egress to anywhere")
        to_exec = all(set(peer) == {"podSelector"} and matches(peer["podSelector"], ex_labels)
                      for peer in to)
        to_dns = all(peer.get("namespaceSelector") and matches(
            peer["podSelector"], {"k8s-app": "kube-dns"}) for peer in to)
        if to_exec:
            check(ports_of(rule) == [("TCP", EXECUTOR_PORT)], "gateway egress to executors: port")
        else:
            check(to_dns and ports_of(rule) == [("TCP", 53), ("UDP", 53)],
                  f"gateway egress beyond executors and DNS: {rule}")
    check(any(r.get("to") and all(set(p) == {"podSelector"} for p in r["to"]) for r in egress),
          "gateway cannot reach the executors")


def inv_grace_periods(objs):
    for dep in executors(objs):
        ps = pod_spec(dep)
        drain = int(env_of(ps["containers"][0]).get("EXECUTOR_DRAIN_MS", "25000"))
        grace = ps.get("terminationGracePeriodSeconds", 30) * 1000
        check(grace >= drain + GRACE_MARGIN_MS,
              f"{dep['metadata']['name']}: grace {grace} ms not above the drain {drain} ms")
    ps = pod_spec(gateway(objs))
    c = ps["containers"][0]
    drain = int(env_of(c).get("CODEGATE_DRAIN_MS", "10000"))
    pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
    grace = ps.get("terminationGracePeriodSeconds", 30) * 1000
    check(grace >= pre * 1000 + drain + GRACE_MARGIN_MS,
          f"gateway: grace {grace} ms not above preStop {pre} s + drain {drain} ms")


def inv_memory_formula(objs):
    lim = protocol_limits()
    for dep in executors(objs):
        c = pod_spec(dep)["containers"][0]
        slots = int(env_of(c)["EXECUTOR_SLOTS"])
        need = (slots * (lim["CG_MAX_MEMORY_MB"] + lim["CG_RUN_MEMORY_EXTRA_MB"])
                + lim["CG_EXECUTOR_BASE_MB"])
        have = mib(c["resources"]["limits"]["memory"])
        check(have >= need, f"{dep['metadata']['name']}: memory limit {have:.0f} MiB below "
              f"{slots} slots x ({lim['CG_MAX_MEMORY_MB']} + {lim['CG_RUN_MEMORY_EXTRA_MB']}) + "
              f"{lim['CG_EXECUTOR_BASE_MB']} = {need} MiB")


def inv_slots_agree(objs):
    """The gateway pools as many connections per executor as each executor has slots."""
    gw_slots = env_of(pod_spec(gateway(objs))["containers"][0]).get("CODEGATE_SLOTS")
    for dep in executors(objs):
        slots = env_of(pod_spec(dep)["containers"][0])["EXECUTOR_SLOTS"]
        check(gw_slots == slots, f"gateway CODEGATE_SLOTS {gw_slots} but "
              f"{dep['metadata']['name']} has EXECUTOR_SLOTS {slots}")


def token_of(secret):
    if "stringData" in secret:
        return secret["stringData"]["executor-token"]
    return base64.b64decode(secret["data"]["executor-token"]).decode()


def inv_secret_mounted(objs):
    secret = named(objs, "Secret", "codegate-executor-token")
    for dep in [gateway(objs)] + executors(objs):
        ps = pod_spec(dep)
        c = ps["containers"][0]
        files = [v for k, v in env_of(c).items() if k.endswith("TOKEN_FILE")]
        check(len(files) == 1, f"{dep['metadata']['name']}: no *_TOKEN_FILE")
        check(not any(k.endswith("_TOKEN") for k in env_of(c)),
              f"{dep['metadata']['name']}: a token in the environment")
        vols = {v["name"]: v for v in ps.get("volumes") or []}
        ok = False
        for m in c.get("volumeMounts") or []:
            v = vols.get(m["name"], {})
            if (v.get("secret", {}).get("secretName") == secret["metadata"]["name"]
                    and files[0] == m["mountPath"].rstrip("/") + "/executor-token"):
                check(m.get("readOnly") is True, f"{dep['metadata']['name']}: token mount rw")
                ok = True
        check(ok, f"{dep['metadata']['name']}: {files[0]} is not the mounted Secret")


def inv_placeholder_token(objs):
    tok = token_of(named(objs, "Secret", "codegate-executor-token"))
    check(len(tok) < TOKEN_MIN, f"the committed token {tok!r} is usable: it must be a "
          f"placeholder shorter than {TOKEN_MIN} characters")


def seccomp_of(ps, c):
    sc = (c.get("securityContext") or {}).get("seccompProfile") or \
        (ps.get("securityContext") or {}).get("seccompProfile") or {}
    return sc.get("type")


def inv_security_contexts(objs):
    for dep in executors(objs):
        name = dep["metadata"]["name"]
        ps = pod_spec(dep)
        c = ps["containers"][0]
        sc = c.get("securityContext") or {}
        check(sc.get("runAsUser") == 0, f"{name}: the executor must run as root in its container")
        check(sc.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation")
        check(sc.get("readOnlyRootFilesystem") is True, f"{name}: writable root")
        caps = sc.get("capabilities") or {}
        check(caps.get("drop") == ["ALL"], f"{name}: capabilities not dropped")
        check(set(caps.get("add") or []) == EXECUTOR_CAPS,
              f"{name}: capabilities {caps.get('add')} (want {sorted(EXECUTOR_CAPS)}, spelt "
              "without CAP_: the API refuses CAP_SYS_ADMIN with allowPrivilegeEscalation false)")
        check(seccomp_of(ps, c) == "RuntimeDefault", f"{name}: seccomp not RuntimeDefault")
        check(ps.get("automountServiceAccountToken") is False, f"{name}: service account token")
        check(ps.get("shareProcessNamespace") is True, f"{name}: no pid 1 to reap orphans")
        vols = {v["name"]: v for v in ps.get("volumes") or []}
        mounts = {m["mountPath"]: vols.get(m["name"], {}) for m in c.get("volumeMounts") or []}
        for path in ("/work", "/tmp"):
            ed = mounts.get(path, {}).get("emptyDir")
            check(ed is not None and ed.get("medium") == "Memory",
                  f"{name}: {path} is not an in-memory emptyDir")
    gw = gateway(objs)
    ps = pod_spec(gw)
    c = ps["containers"][0]
    sc, psc = c.get("securityContext") or {}, ps.get("securityContext") or {}
    check(psc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True, "gateway may be root")
    check((sc.get("runAsUser") or psc.get("runAsUser")) == GATEWAY_UID, "gateway uid")
    check(sc.get("allowPrivilegeEscalation") is False, "gateway: privilege escalation")
    check(sc.get("readOnlyRootFilesystem") is True, "gateway: writable root")
    check((sc.get("capabilities") or {}).get("drop") == ["ALL"]
          and not (sc.get("capabilities") or {}).get("add"), "gateway: capabilities")
    check(seccomp_of(ps, c) == "RuntimeDefault", "gateway: seccomp not RuntimeDefault")
    check(ps.get("automountServiceAccountToken") is False, "gateway: service account token")


def inv_no_host_access(objs):
    for dep in of_kind(objs, "Deployment"):
        name = dep["metadata"]["name"]
        ps = pod_spec(dep)
        for k in ("hostNetwork", "hostPID", "hostIPC"):
            check(not ps.get(k), f"{name}: {k}")
        for v in ps.get("volumes") or []:
            check("hostPath" not in v, f"{name}: hostPath volume {v['name']}")
        for c in ps.get("containers", []) + ps.get("initContainers", []):
            check(not (c.get("securityContext") or {}).get("privileged"), f"{name}: privileged")
            for p in c.get("ports") or []:
                check("hostPort" not in p, f"{name}: hostPort")
            check(not any(m.get("mountPath", "").endswith("docker.sock")
                          for m in c.get("volumeMounts") or []), f"{name}: Docker socket")


def inv_executors_alike(objs):
    """The three executor Deployments differ only in the language."""
    deps = {env_of(pod_spec(d)["containers"][0])["EXECUTOR_LANGUAGE"]: d for d in executors(objs)}
    check(set(deps) == set(LANGUAGES), f"executor languages {sorted(deps)}")
    ref = _yaml.safe_dump(deps["python"])
    for lang in LANGUAGES:
        norm = _yaml.safe_dump(deps[lang]).replace(lang, "python")
        check(norm == ref, f"codegate-{lang} differs from codegate-python beyond the language")


INVARIANTS = [inv_schema, inv_expected_objects, inv_probes_resources, inv_pdb_per_deployment,
              inv_executor_hpa, inv_headless_services, inv_gateway_service,
              inv_network_policies, inv_grace_periods, inv_memory_formula, inv_slots_agree,
              inv_secret_mounted,
              inv_security_contexts, inv_no_host_access, inv_executors_alike]


# ---- the tests ----

BASE = []


def base():
    if not BASE:
        BASE.extend(render(K8S_DIR))
    return BASE


def test_tools_are_the_pinned_ones():
    p = subprocess.run([KUBECTL, "version", "--client", "--short"], capture_output=True,
                       text=True)
    check(p.returncode == 0 and "v1.20." in p.stdout, f"kubectl: {p.stdout} {p.stderr}")
    check(_catalog.version == K8S_VERSION,
          f"schemas of Kubernetes {_catalog.version}, want {K8S_VERSION}")
    p = subprocess.run([node_bin(), VALIDATE_MODELS, "--version"], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, f"validate_models.js --version: {p.stdout}{p.stderr}")
    got = json.loads(p.stdout)
    check(got == {"package": MODELS_VERSION, "kubernetes": MODELS_K8S_VERSION},
          f"kubernetes-models {got}, want {MODELS_VERSION} (Kubernetes {MODELS_K8S_VERSION})")
    print(f"  kubernetes-models {got['package']}: validators from the Kubernetes "
          f"{got['kubernetes']} OpenAPI spec; kubernetes-types {_catalog.version}")
    for kind in [("apps/v1", "Deployment"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                 ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "NetworkPolicy"),
                 ("v1", "Service"), ("v1", "Secret"), ("v1", "Namespace")]:
        check(kind in _catalog.kinds, f"no schema for {kind}")


def test_validator_refuses_invalid_objects():
    """The schema check itself: a valid object passes, each kind of mistake is caught."""
    import k8s_schema
    good = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i",
                                                           "resources": {"limits": {
                                                               "cpu": 2, "memory": "1Gi"}}}]}}}}
    check(k8s_schema.validate(_catalog, good) == [], "a valid Deployment refused")
    bad = []
    d = copy.deepcopy(good)
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    bad.append(("unknown field", d))
    d = copy.deepcopy(good)
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    bad.append(("wrong type", d))
    d = copy.deepcopy(good)
    del d["spec"]["template"]["spec"]["containers"][0]["name"]
    bad.append(("missing required field", d))
    d = copy.deepcopy(good)
    d["spec"]["template"]["spec"]["securityContext"] = {"seccompProfile": {"typ": "RuntimeDefault"}}
    bad.append(("nested unknown field", d))
    d = copy.deepcopy(good)
    d["apiVersion"] = "extensions/v1beta1"
    bad.append(("removed API version", d))
    d = copy.deepcopy(good)
    d["metadata"]["labels"] = {"a": 1}
    bad.append(("label not a string", d))
    for what, obj in bad:
        check(k8s_schema.validate(_catalog, obj), f"the validator accepted a {what}")


def test_models_validator_refuses_invalid_objects():
    """validate_models.js itself: a valid object passes; a wrong type, a non-integer, an unknown
    enum value, a missing required field, a malformed quantity and an unknown kind are each
    reported at their path, and the exit status is 1 (2, a setup error, is never taken for one)."""
    good = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "good"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i",
                                                           "resources": {"limits": {
                                                               "cpu": 2, "memory": "1Gi"}}}]}}}}
    rc, out = validate_models([good])
    check(rc == 0 and len(out) == 1 and "1 objects valid" in out[0],
          "a valid Deployment refused:\n" + "\n".join(out))
    ctr = "/spec/template/spec/containers/0"
    cases = [  # (name, mutate, path, words of the message)
        ("port-string", lambda c, d: c.update(ports=[{"containerPort": "8765x"}]),
         ctr + "/ports/0/containerPort", "must be integer"),
        ("port-fraction", lambda c, d: c.update(ports=[{"containerPort": 8765.5}]),
         ctr + "/ports/0/containerPort", "must be integer"),
        ("replicas-two", lambda c, d: d["spec"].update(replicas="two"),
         "/spec/replicas", "must be integer"),
        ("pull-sometimes", lambda c, d: c.update(imagePullPolicy="Sometimes"),
         ctr + "/imagePullPolicy", 'must be one of "Always", "IfNotPresent", "Never"'),
        ("protocol-icmp", lambda c, d: c.update(ports=[{"containerPort": 1, "protocol": "ICMP"}]),
         ctr + "/ports/0/protocol", "must be one of"),
        ("no-container-name", lambda c, d: c.pop("name"), ctr + "/name",
         "required field missing"),
        ("memory-1-GB", lambda c, d: c["resources"]["limits"].update(memory="1 GB"),
         ctr + "/resources/limits/memory", 'must match format "quantity"'),
        ("label-int", lambda c, d: d["metadata"].update(labels={"a": 1}),
         "/metadata/labels/a", "must be string"),
        ("kind-typo", lambda c, d: d.update(kind="Deploymnet"), "/",
         "no model for apps/v1 Deploymnet"),
    ]
    objs = [good]
    for name, mutate, _, _ in cases:
        d = copy.deepcopy(good)
        d["metadata"]["name"] = name
        mutate(d["spec"]["template"]["spec"]["containers"][0], d)
        objs.append(d)
    rc, out = validate_models(objs)
    check(rc == 1, f"exit status {rc} with invalid objects:\n" + "\n".join(out))
    for name, _, path, words in cases:
        kind = "Deploymnet" if name == "kind-typo" else "Deployment"
        lines = [ln for ln in out if ln.startswith(f"{kind} {name}: {path}: ")]
        check(any(words in ln for ln in lines),
              f"{name}: no '{path}: {words}' in the output:\n" + "\n".join(out))
    check(not any(ln.startswith("Deployment good:") for ln in out), "the valid object reported")
    check(out[-1].endswith(f"{len(cases)} of {len(objs)} objects invalid"), out[-1])
    p = subprocess.run([node_bin(), VALIDATE_MODELS, "--modules",
                        os.path.join(ROOT, "build", "no-such-dir")], input="[]",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2, f"a missing package gave exit status {p.returncode}, not 2")


def test_models_validate_base_and_overlays():
    """The base and both overlays pass the validators generated from the Kubernetes OpenAPI
    spec (kubernetes-models), every object checked."""
    token = base64.b64encode(os.urandom(24)).decode()
    for what, objs in (("base", base()), ("example overlay", render_example_overlay(token)),
                       ("userns overlay", render(os.path.join(K8S_DIR, "overlays", "userns")))):
        rc, out = validate_models(objs)
        check(rc == 0, f"{what}: not valid for Kubernetes {MODELS_K8S_VERSION}:\n  "
              + "\n  ".join(out))
        check(out and out[-1].endswith(f"{len(objs)} objects valid"), f"{what}: {out}")
        print(f"  {what}: {out[-1]}")
    # The same objects, broken where kubernetes-types' schemas cannot see it, are refused.
    objs = copy.deepcopy(base())
    ex = named(objs, "Deployment", "codegate-python")
    ex_c = pod_spec(ex)["containers"][0]
    ex_c["imagePullPolicy"] = "Sometimes"
    ex_c["resources"]["limits"]["cpu"] = "two"
    named(objs, "Service", "codegate-gateway")["spec"]["ports"][0]["port"] = 5000.5
    rc, out = validate_models(objs)
    ctr = "/spec/template/spec/containers/0"
    for want in (f"Deployment codegate-python: {ctr}/imagePullPolicy: must be one of",
                 f"Deployment codegate-python: {ctr}/resources/limits/cpu: must match format",
                 "Service codegate-gateway: /spec/ports/0/port: must be integer"):
        check(rc == 1 and any(ln.startswith(want) for ln in out),
              f"broken base: no '{want}' (exit {rc}):\n" + "\n".join(out))


def test_base_renders_and_is_valid():
    objs = base()
    inv_schema(objs)
    inv_expected_objects(objs)


def test_root_and_base_render_the_same():
    key = (lambda o: (o["kind"], o["metadata"]["name"]))
    a = sorted(base(), key=key)
    b = sorted(render(os.path.join(K8S_DIR, "base")), key=key)
    check(a == b, "deploy/kubernetes and deploy/kubernetes/base render different objects: keep "
          "the two resource lists the same")


def test_deployments_have_probes_and_resources():
    inv_probes_resources(base())


def test_every_deployment_has_a_pdb():
    inv_pdb_per_deployment(base())


def test_executors_have_an_hpa():
    inv_executor_hpa(base())


def test_headless_service_per_language():
    inv_headless_services(base())
    inv_gateway_service(base())


def test_network_policies_restrict_executors():
    inv_network_policies(base())


def test_grace_periods_exceed_drains():
    inv_grace_periods(base())


def test_executor_memory_limit_fits_slots():
    inv_memory_formula(base())
    inv_slots_agree(base())


def test_token_secret_mounted_and_placeholder():
    inv_secret_mounted(base())
    inv_placeholder_token(base())


def test_security_contexts():
    inv_security_contexts(base())
    inv_no_host_access(base())


def test_executor_deployments_alike():
    inv_executors_alike(base())


def test_example_overlay_sets_token_and_images():
    token = base64.b64encode(os.urandom(24)).decode()
    objs = render_example_overlay(token)
    for inv in INVARIANTS:
        inv(objs)
    secret = named(objs, "Secret", "codegate-executor-token")
    check("stringData" not in secret, "the placeholder's stringData survived the overlay "
          "(it would override data on the API server)")
    check(token_of(secret) == token and len(token) >= TOKEN_MIN, "overlay token not in Secret")
    for dep in of_kind(objs, "Deployment"):
        image = pod_spec(dep)["containers"][0]["image"]
        check(image.startswith("registry.school.example/"), f"image {image} not replaced")


def test_userns_overlay():
    objs = render(os.path.join(K8S_DIR, "overlays", "userns"))
    for inv in INVARIANTS:
        inv(objs)
    for dep in executors(objs):
        ps = pod_spec(dep)
        c = ps["containers"][0]
        check(ps.get("hostUsers") is False, f"{dep['metadata']['name']}: hostUsers not false")
        check(c["securityContext"].get("procMount") == "Unmasked", "procMount not Unmasked")
        base_uid = int(env_of(c)["EXECUTOR_UID_BASE"])
        slots = int(env_of(c)["EXECUTOR_SLOTS"])
        # A pod's user namespace maps uids 0..65535 only.
        check(1000 <= base_uid and base_uid + slots <= 65536, f"slot uids {base_uid}+{slots}")
    check(pod_spec(gateway(objs)).get("hostUsers") is None, "gateway changed by the overlay")


def break_objects():
    """(what, invariant, mutate) triples: each mutation must make its invariant fail."""
    def first_exec(objs):
        return executors(objs)[0]

    def c0(dep):
        return pod_spec(dep)["containers"][0]

    def drop_probe(objs):
        del c0(gateway(objs))["livenessProbe"]

    def drop_limits(objs):
        del c0(first_exec(objs))["resources"]["limits"]

    def drop_pdb(objs):
        objs.remove(next(o for o in objs if o["kind"] == "PodDisruptionBudget"))

    def wide_pdb(objs):
        for p in of_kind(objs, "PodDisruptionBudget"):
            p["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "codegate"}}

    def drop_hpa(objs):
        objs.remove(next(o for o in objs if o["kind"] == "HorizontalPodAutoscaler"))

    def pin_replicas(objs):
        first_exec(objs)["spec"]["replicas"] = 3

    def not_headless(objs):
        named(objs, "Service", "codegate-cpp")["spec"]["clusterIP"] = "10.0.0.1"

    def publish_not_ready(objs):
        named(objs, "Service", "codegate-python")["spec"]["publishNotReadyAddresses"] = True

    def wrong_addr(objs):
        for e in c0(gateway(objs))["env"]:
            if e["name"] == "CODEGATE_EXECUTOR_ADDRS":
                e["value"] = e["value"].replace("codegate-cpp:8765", "codegate-cpp:9999")

    def open_ingress(objs):
        p = named(objs, "NetworkPolicy", "codegate-executors")
        p["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})

    def allow_egress(objs):
        p = named(objs, "NetworkPolicy", "codegate-executors")
        p["spec"]["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]

    def no_default_deny(objs):
        objs.remove(named(objs, "NetworkPolicy", "codegate-default-deny"))

    def gateway_egress_anywhere(objs):
        named(objs, "NetworkPolicy", "codegate-gateway")["spec"]["egress"].append({})

    def short_grace(objs):
        pod_spec(first_exec(objs))["terminationGracePeriodSeconds"] = 25

    def short_gateway_grace(objs):
        pod_spec(gateway(objs))["terminationGracePeriodSeconds"] = 12

    def small_memory(objs):
        c0(first_exec(objs))["resources"]["limits"]["memory"] = "4Gi"

    def more_slots(objs):
        for e in c0(first_exec(objs))["env"]:
            if e["name"] == "EXECUTOR_SLOTS":
                e["value"] = "5"

    def token_env(objs):
        c0(gateway(objs))["env"].append({"name": "CODEGATE_EXECUTOR_TOKEN", "value": "x" * 32})

    def token_unmounted(objs):
        c = c0(first_exec(objs))
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "executor-token"]

    def usable_token(objs):
        named(objs, "Secret", "codegate-executor-token")["stringData"]["executor-token"] = "y" * 16

    def cap_sys_ptrace(objs):
        c0(first_exec(objs))["securityContext"]["capabilities"]["add"].append("SYS_PTRACE")

    def cap_prefix(objs):
        caps = c0(first_exec(objs))["securityContext"]["capabilities"]
        caps["add"] = ["CAP_" + c if c == "SYS_ADMIN" else c for c in caps["add"]]

    def escalation(objs):
        c0(first_exec(objs))["securityContext"]["allowPrivilegeEscalation"] = True

    def gateway_root(objs):
        pod_spec(gateway(objs))["securityContext"]["runAsUser"] = 0

    def writable_root(objs):
        c0(first_exec(objs))["securityContext"]["readOnlyRootFilesystem"] = False

    def disk_work(objs):
        for v in pod_spec(first_exec(objs))["volumes"]:
            if v["name"] == "work":
                v["emptyDir"] = {}

    def host_path(objs):
        pod_spec(first_exec(objs))["volumes"].append({"name": "h", "hostPath": {"path": "/"}})

    def privileged(objs):
        c0(first_exec(objs))["securityContext"]["privileged"] = True

    def host_pid(objs):
        pod_spec(gateway(objs))["hostPID"] = True

    def docker_socket(objs):
        ps = pod_spec(gateway(objs))
        ps["volumes"].append({"name": "d", "emptyDir": {}})
        c0(gateway(objs))["volumeMounts"].append({"name": "d", "mountPath": "/var/run/docker.sock"})

    def unknown_field(objs):
        c0(gateway(objs))["readinesProbe"] = c0(gateway(objs))["readinessProbe"]

    def drift(objs):
        c0(named(objs, "Deployment", "codegate-javascript"))["resources"]["limits"]["cpu"] = "3"

    def gateway_on_loopback(objs):
        for e in c0(gateway(objs))["env"]:
            if e["name"] == "CODEGATE_BIND":
                e["value"] = "127.0.0.1"

    def gateway_service_port(objs):
        named(objs, "Service", "codegate-gateway")["spec"]["ports"][0]["targetPort"] = 8080

    def wrong_namespace(objs):
        named(objs, "Service", "codegate-gateway")["metadata"]["namespace"] = "default"

    return [
        ("probe removed", inv_probes_resources, drop_probe),
        ("limits removed", inv_probes_resources, drop_limits),
        ("a PDB removed", inv_pdb_per_deployment, drop_pdb),
        ("PDBs selecting every pod", inv_pdb_per_deployment, wide_pdb),
        ("an HPA removed", inv_executor_hpa, drop_hpa),
        ("replicas beside an HPA", inv_executor_hpa, pin_replicas),
        ("Service with a cluster IP", inv_headless_services, not_headless),
        ("Service publishing not-ready pods", inv_headless_services, publish_not_ready),
        ("gateway address on the wrong port", inv_headless_services, wrong_addr),
        ("executor ingress from any namespace", inv_network_policies, open_ingress),
        ("executor egress", inv_network_policies, allow_egress),
        ("no default deny", inv_network_policies, no_default_deny),
        ("gateway egress anywhere", inv_network_policies, gateway_egress_anywhere),
        ("executor grace below the drain", inv_grace_periods, short_grace),
        ("gateway grace below preStop + drain", inv_grace_periods, short_gateway_grace),
        ("memory limit below the formula", inv_memory_formula, small_memory),
        ("more slots, same memory", inv_memory_formula, more_slots),
        ("more slots than the gateway pools", inv_slots_agree, more_slots),
        ("token in the environment", inv_secret_mounted, token_env),
        ("token not mounted", inv_secret_mounted, token_unmounted),
        ("usable committed token", inv_placeholder_token, usable_token),
        ("extra capability", inv_security_contexts, cap_sys_ptrace),
        ("CAP_SYS_ADMIN spelling", inv_security_contexts, cap_prefix),
        ("privilege escalation", inv_security_contexts, escalation),
        ("gateway as root", inv_security_contexts, gateway_root),
        ("writable root", inv_security_contexts, writable_root),
        ("/work on disk", inv_security_contexts, disk_work),
        ("hostPath volume", inv_no_host_access, host_path),
        ("privileged container", inv_no_host_access, privileged),
        ("host pid namespace", inv_no_host_access, host_pid),
        ("Docker socket", inv_no_host_access, docker_socket),
        ("misspelt field", inv_schema, unknown_field),
        ("executor Deployments drifting apart", inv_executors_alike, drift),
        ("object outside the namespace", inv_expected_objects, wrong_namespace),
        ("gateway bound to loopback", inv_gateway_service, gateway_on_loopback),
        ("gateway Service to another port", inv_gateway_service, gateway_service_port),
    ]


def test_invariants_catch_broken_objects():
    """Every invariant passes on the base and fails on a broken copy (none accepts everything)."""
    for inv in INVARIANTS:
        inv(base())
    broken_by = set()
    for what, inv, mutate in break_objects():
        objs = copy.deepcopy(base())
        mutate(objs)
        try:
            inv(objs)
        except AssertionError:
            broken_by.add(inv)
            continue
        raise AssertionError(f"{inv.__name__} accepted: {what}")
    untested = [i.__name__ for i in INVARIANTS + [inv_placeholder_token] if i not in broken_by]
    check(not untested, f"invariants never shown to fail: {untested}")


def normalized(objs):
    """Objects sorted by kind and name, env lists by name, empty annotations dropped: what two
    kustomize versions legitimately render differently (a patched variable's position)."""
    def walk(v):
        if isinstance(v, dict):
            out = {k: walk(x) for k, x in v.items() if not (k == "annotations" and x == {})}
            if isinstance(out.get("env"), list):
                out["env"] = sorted(out["env"], key=lambda e: e["name"])
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return sorted((walk(o) for o in objs), key=lambda o: (o["kind"], o["metadata"]["name"]))


def test_other_kubectl_renders_the_same():
    """A newer kubectl (kustomize 5) on the machine renders the same objects as Debian's 1.20,
    for the base and both overlays."""
    other = shutil.which("kubectl")
    if not other or os.path.realpath(other) == os.path.realpath(KUBECTL):
        print("  (no other kubectl on PATH: rendered with Debian's kubectl 1.20 only)")
        return
    for path in (K8S_DIR, os.path.join(K8S_DIR, "overlays", "userns")):
        check(normalized(render(path, other)) == normalized(render(path)),
              f"{other} renders {path} differently")
    token = "t" * 32
    check(normalized(render_example_overlay(token, other))
          == normalized(render_example_overlay(token)),
          f"{other} renders the example overlay differently")


def main():
    r = Runner("kubernetes manifests")
    try:
        ensure_tools()
    except Exception as e:  # the tools are the suite's precondition: one failure, said plainly
        print(f"[FAIL] install-k8s-tools: {e}")
        print("0 passed, 1 failed")
        return 1
    for t in [test_tools_are_the_pinned_ones, test_validator_refuses_invalid_objects,
              test_models_validator_refuses_invalid_objects, test_base_renders_and_is_valid,
              test_models_validate_base_and_overlays, test_root_and_base_render_the_same,
              test_deployments_have_probes_and_resources, test_every_deployment_has_a_pdb,
              test_executors_have_an_hpa, test_headless_service_per_language,
              test_network_policies_restrict_executors, test_grace_periods_exceed_drains,
              test_executor_memory_limit_fits_slots, test_token_secret_mounted_and_placeholder,
              test_security_contexts, test_executor_deployments_alike,
              test_example_overlay_sets_token_and_images, test_userns_overlay,
              test_invariants_catch_broken_objects, test_other_kubectl_renders_the_same]:
        r.run(t, timeout=300)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Docker suite: cold start, hardening, replacement of killed containers, SIGTERM teardown,
recovery after kill -9, and the foundation's integration suite against the Docker runtime.

    tests/docker/test_docker.py BUILD_DIR
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from harness import Gateway, Runner, check, http  # noqa: E402
from lang_programs import PROGRAMS  # noqa: E402

BUILD = "build"
INSTANCE = os.environ.get("CODEGATE_TEST_PREFIX", "") + "dkt%d" % os.getpid()


def docker(*args):
    r = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=120)
    return r.stdout.strip()


def instance_containers(instance, all_=True):
    out = docker("ps", "-q" + ("a" if all_ else ""), "--filter", "label=codegate.instance=" + instance)
    return [x for x in out.split() if x]


def instance_networks(instance):
    out = docker("network", "ls", "-q", "--filter", "label=codegate.instance=" + instance)
    return [x for x in out.split() if x]


def gateway(instance=INSTANCE, *args):
    g = Gateway(BUILD, ["--runtime", "docker"] + list(args), name="dk")
    # Same instance across starts: replace the generated one.
    i = g.args.index("--instance")
    g.args[i + 1] = instance
    g.instance = instance
    return g


G = None
NLANG = 5  # languages the gateway offers (set by the first test from /api/languages)
IMAGE_OF = {"c": "cpp"}  # languages served by another language's image (common/lang.c)


def test_cold_start_serves_every_language():
    global G, NLANG
    G = gateway().start(ready_timeout=1800)
    st, doc, _ = http("GET", G.url + "/healthz")
    check(doc["runtime"] == "docker", "runtime is docker", doc)
    st, doc, _ = http("GET", G.url + "/api/languages")
    langs = [e["language"] for e in doc["data"]]
    NLANG = len(langs)
    check(set(langs) <= set(PROGRAMS) and {"python", "javascript", "cpp"} <= set(langs),
          "every language has programs", doc)
    for lang in langs:
        st, doc, _ = G.execute({"language": lang, "code": PROGRAMS[lang]["hello"]})
        check(st == 200 and doc["data"]["stdout"] == "Hello, World!\n", lang, doc)
    check(len(instance_containers(INSTANCE, all_=False)) == NLANG,
          "one running container per language")
    images = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    # C runs from the C++ image (common/lang.c: .image), every other language from its own.
    for image in {IMAGE_OF.get(lang, lang) for lang in langs}:
        check("codegate-%s:" % image in images, "image %s" % image)


def test_containers_are_hardened():
    cid = instance_containers(INSTANCE, all_=False)[0]
    info = json.loads(docker("inspect", cid))[0]
    hc = info["HostConfig"]
    check(hc["CapDrop"] == ["ALL"], "CapDrop ALL: %s" % hc["CapDrop"])
    check(set(hc["CapAdd"]) <= {"SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER",
                                "SYS_ADMIN", "SYS_CHROOT",
                                "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN",
                                "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SYS_ADMIN", "CAP_SYS_CHROOT"}, "CapAdd: %s" % hc["CapAdd"])
    check("no-new-privileges" in hc["SecurityOpt"], "no-new-privileges")
    logs = subprocess.run(["docker", "logs", cid], capture_output=True, text=True, timeout=30)
    text = logs.stdout + logs.stderr
    check("each slot has its own box" in text and "each slot has its own memory cgroup" in text
          and "REDUCED ISOLATION" not in text,
          "the executor runs every slot in its own namespaces and memory cgroup", text[-2000:])
    check(hc["ReadonlyRootfs"] is True, "read-only root")
    check(hc["Init"] is True, "init")
    check(hc["Memory"] > 0 and hc["PidsLimit"] > 0 and hc["NanoCpus"] > 0, "limits")
    check("/work" in hc["Tmpfs"] and "exec" in hc["Tmpfs"]["/work"].split(","), "tmpfs /work exec")
    net = hc["NetworkMode"]
    ninfo = json.loads(docker("network", "inspect", net))[0]
    check(ninfo["Internal"] is True, "internal network")
    check(info["Config"]["Labels"].get("codegate.instance") == INSTANCE, "ownership label")


def test_cpp_precompiled_header():
    """The cpp image has a precompiled <bits/stdc++.h> that the compile step's flags can use."""
    cid = [c for c in instance_containers(INSTANCE, all_=False)
           if "cpp" in docker("inspect", "--format", "{{.Name}}", c)][0]
    # g++ -H marks a header taken from a valid precompiled header with "!"
    r = subprocess.run(["docker", "exec", cid, "sh", "-c",
                        "echo '#include <bits/stdc++.h>' | g++ -std=c++17 -O2 -pipe -H -x c++ "
                        "-fsyntax-only - 2>&1 | head -1"], capture_output=True, text=True, timeout=60)
    check(r.stdout.startswith("! ") and "stdc++.h.gch" in r.stdout, "the PCH is used", r.stdout + r.stderr)
    code = ("#include <bits/stdc++.h>\nusing namespace std;\n"
            "int main(){vector<int> v{3,1,2}; sort(v.begin(), v.end()); map<int,int> m; m[v[0]]=%d;"
            " cout << m.begin()->second << endl;}" % os.getpid())
    st, doc, _ = G.execute({"language": "cpp", "code": code})
    check(st == 200 and doc["data"]["stdout"] == "%d\n" % os.getpid(), "bits/stdc++.h compiles and runs", doc)
    print("    <bits/stdc++.h> program compiled in %d ms" % doc["data"]["compile"]["durationMs"])


def test_isolation_fails_closed_when_asked():
    """An executor container without SYS_ADMIN cannot make the slots' namespaces: by default it
    says REDUCED ISOLATION and serves; with EXECUTOR_REQUIRE_NAMESPACES=1 it refuses to start."""
    cid = [c for c in instance_containers(INSTANCE, all_=False)
           if "python" in docker("inspect", "--format", "{{.Name}}", c)][0]
    image = docker("inspect", "--format", "{{.Config.Image}}", cid)
    base = ["docker", "run", "--rm", "--network", "none", "--cap-drop", "ALL"]
    for cap in ("SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"):
        base += ["--cap-add", cap]
    base += ["--tmpfs", "/work:rw,exec,size=64m,mode=0711", "-e", "EXECUTOR_TOKEN=t0k3n-test-0123456789",
             "-e", "EXECUTOR_WORK_ROOT=/work"]
    r = subprocess.run(base + ["-e", "EXECUTOR_REQUIRE_NAMESPACES=1", image],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "--require-namespaces" in r.stderr,
          "refuses to start without namespaces when required", (r.returncode, r.stderr[-1500:]))
    name = "codegate-reduced-%d" % os.getpid()
    subprocess.run(base[:2] + ["-d", "--name", name] + base[3:] + [image], capture_output=True,
                   text=True, timeout=60)
    try:
        text, deadline = "", time.time() + 30
        while time.time() < deadline and '"event":"listen"' not in text:
            time.sleep(0.3)
            lr = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30)
            text = lr.stdout + lr.stderr
        check("REDUCED ISOLATION" in text and '"event":"listen"' in text,
              "without the capabilities it warns and still serves", text[-1500:])
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_killed_container_is_replaced():
    before = instance_containers(INSTANCE, all_=False)
    victim = None
    for cid in before:
        if json.loads(docker("inspect", cid))[0]["Config"]["Labels"].get("codegate.language") == "python":
            victim = cid
    check(victim, "python container found")
    docker("kill", victim)
    t0 = time.time()
    ok = False
    while time.time() - t0 < 60:
        st, doc, _ = G.execute({"language": "python", "code": "print('back')"})
        if st == 200 and doc["data"]["stdout"] == "back\n":
            ok = True
            break
        time.sleep(0.5)
    check(ok, "python served again after docker kill")
    print("    replaced and serving after %.1fs" % (time.time() - t0))
    check(len(instance_containers(INSTANCE, all_=False)) == NLANG, "all running again")
    check(victim not in instance_containers(INSTANCE), "killed container removed")


def test_removed_container_is_replaced():
    cid = instance_containers(INSTANCE, all_=False)[0]
    docker("rm", "-f", cid)
    t0 = time.time()
    while time.time() - t0 < 60:
        st, _, _ = http("GET", G.url + "/readyz")
        if st == 200 and len(instance_containers(INSTANCE, all_=False)) == NLANG:
            break
        time.sleep(0.5)
    check(st == 200, "ready again after docker rm -f")
    for lang, code in (("python", "print(1)"), ("javascript", "console.log(1)"), ("cpp", "int main(){}")):
        st, doc, _ = G.execute({"language": lang, "code": code})
        check(st == 200, lang, doc)


def test_hung_container_is_replaced():
    """A frozen executor (docker pause) stops answering pings: it is replaced."""
    victim = None
    for cid in instance_containers(INSTANCE, all_=False):
        if json.loads(docker("inspect", cid))[0]["Config"]["Labels"].get("codegate.language") == "javascript":
            victim = cid
    check(victim, "javascript container found")
    docker("pause", victim)
    t0 = time.time()
    ok = False
    while time.time() - t0 < 60:
        st, doc, _ = G.execute({"language": "javascript", "code": "console.log('thawed')"}, timeout=30)
        if st == 200 and doc["data"]["stdout"] == "thawed\n":
            ok = True
            break
        time.sleep(0.5)
    print("    serving again %.1fs after the pause" % (time.time() - t0))
    check(ok, "javascript served again after its container hung")
    check(victim not in instance_containers(INSTANCE), "hung container removed")


def test_sigterm_with_request_in_flight_cleans_up():
    res = {}

    def call():
        res["r"] = G.execute({"language": "python", "code": "import time\ntime.sleep(1.5)\nprint('done')"})
    th = threading.Thread(target=call)
    th.start()
    time.sleep(0.4)
    G.proc.send_signal(signal.SIGTERM)
    th.join(60)
    st, doc, _ = res["r"]
    check(st == 200 and doc["data"]["stdout"] == "done\n", "in-flight request completed", doc)
    check(G.proc.wait(120) == 0, "exit status 0")
    check(instance_containers(INSTANCE) == [], "no container left: %s" % instance_containers(INSTANCE))
    check(instance_networks(INSTANCE) == [], "no network left")


def test_kill9_then_restart_leaves_no_stale_containers():
    g = gateway().start(ready_timeout=600)
    first = set(instance_containers(INSTANCE))
    check(len(first) == NLANG, "one container per language")
    g.proc.kill()
    g.proc.wait()
    check(set(instance_containers(INSTANCE)) == first, "kill -9 leaves them (expected)")
    g2 = gateway().start(ready_timeout=600)
    now = set(instance_containers(INSTANCE))
    check(len(now) == NLANG and not (now & first), "stale containers removed, fresh ones started")
    st, doc, _ = g2.execute({"language": "python", "code": "print('fresh')"})
    check(st == 200, "serves", doc)
    check(g2.stop() == 0, "exit 0")
    check(instance_containers(INSTANCE) == [] and instance_networks(INSTANCE) == [], "clean")


def integration_suite_on_docker(script, what):
    """Runs tests/integration/<script> against the Docker runtime; its exit status decides."""
    r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(HERE), "integration", script),
                        BUILD, "--runtime", "docker"], timeout=1500)
    check(r.returncode == 0, "%s suite on the Docker runtime failed" % what)


def test_foundation_suite_on_docker():
    integration_suite_on_docker("test_api.py", "integration")


def test_hostile_suite_on_docker():
    integration_suite_on_docker("test_hostile.py", "hostile")


def test_strict_hostile_suite_on_docker():
    integration_suite_on_docker("test_hostile_strict.py", "strict hostile")


def test_languages_suite_on_docker():
    integration_suite_on_docker("test_languages.py", "languages")


def test_limits_suite_on_docker():
    integration_suite_on_docker("test_limits.py", "limits")


def test_files_suite_on_docker():
    integration_suite_on_docker("test_files.py", "files")


def test_zygote_suite_on_docker():
    integration_suite_on_docker("test_zygote.py", "Python zygote")


def main():
    global BUILD
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    r = Runner("docker")
    try:
        r.run(test_cold_start_serves_every_language, timeout=1900)
        if G is not None and G.proc.poll() is None:
            r.run(test_containers_are_hardened)
            r.run(test_cpp_precompiled_header, timeout=120)
            r.run(test_isolation_fails_closed_when_asked, timeout=180)
            r.run(test_killed_container_is_replaced)
            r.run(test_removed_container_is_replaced)
            r.run(test_hung_container_is_replaced)
            r.run(test_sigterm_with_request_in_flight_cleans_up)
        r.run(test_kill9_then_restart_leaves_no_stale_containers, timeout=900)
        r.run(test_foundation_suite_on_docker, timeout=1600)
        r.run(test_languages_suite_on_docker, timeout=1600)
        r.run(test_hostile_suite_on_docker, timeout=1600)
        r.run(test_strict_hostile_suite_on_docker, timeout=1600)
        r.run(test_limits_suite_on_docker, timeout=1600)
        r.run(test_files_suite_on_docker, timeout=1600)
        r.run(test_zygote_suite_on_docker, timeout=1600)
    finally:
        if G is not None and G.proc and G.proc.poll() is None:
            G.stop()
        for cid in instance_containers(INSTANCE):
            docker("rm", "-f", cid)
        for n in instance_networks(INSTANCE):
            docker("network", "rm", n)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Limits that ordinary and careless programs meet: threads, output floods under load, the job's
time budget (issue 10, items 7-9).

    tests/integration/test_limits.py BUILD_DIR [gateway args...]

Part of `make test`: scripts/run-tests.sh runs it on the local runtime, tests/docker/test_docker.py
on the Docker runtime. The gateway gets --job-budget-ms 8000 (so that the budget tests take
seconds, not minutes) on top of the arguments given (default: --runtime local).

  - 16 threads of an ordinary program run at the default limits in every language (C++
    std::thread, Python threading, Node worker_threads, C pthreads, Java threads), all alive at
    the same time.
  - A memory hog still ends memory_limit at the default memory in every language, and so does a
    single allocation larger than the machine (C++ bad_alloc, Python MemoryError).
  - Output floods end output_limit in every language, 4 at once per language (every slot; 2 in
    C and Java) while other requests wait: print/console.log loops, write loops, one huge string, stderr.
  - The time budget: cases that do not fit are skipped and the answer says why; cases that fit
    are not touched; a compiled language's compile counts.

Every assertion names the exact status expected; times are bounded generously. The last line is
`N passed, N failed`.
"""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check  # noqa: E402

G = None
BUDGET_MS = 8000
MiB = 1 << 20


def execute(body, timeout=180):
    t0 = time.time()
    st, doc, _ = G.execute(body, timeout=timeout)
    dt = time.time() - t0
    check(st == 200 and doc and doc.get("success") is True,
          "HTTP %s for %s" % (st, body.get("language")), doc)
    return doc["data"], dt


def brief(d):
    c = dict(d)
    for k in ("stdout", "stderr", "output"):
        if isinstance(c.get(k), str) and len(c[k]) > 300:
            c[k] = c[k][:200] + "...<%d chars>" % len(c[k])
    c.pop("tests", None)
    return c


# ---------------------------------------------------------------------------------------------
# item 7: threads at the default limits
# ---------------------------------------------------------------------------------------------

THREADS_CPP = r'''
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>
static std::atomic<int> started{0};
static long work(int id) {
    volatile char stack[256 * 1024];             // an ordinary amount of stack per thread
    for (unsigned i = 0; i < sizeof stack; i += 4096) stack[i] = (char)id;
    started++;
    while (started.load() < 16) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    long s = 0;
    for (int i = 0; i < 1000000; i++) s += i % (id + 2);
    return s + stack[0] - id;
}
int main() {
    std::vector<std::thread> ts;
    std::vector<long> res(16);
    for (int i = 0; i < 16; i++) ts.emplace_back([i, &res] { res[i] = work(i); });
    for (auto &t : ts) t.join();
    long total = 0;
    for (long r : res) total += r > 0;
    printf("threads %zu alive-together %d results %ld\n", ts.size(), started.load(), total);
}
'''

THREADS_PY = r'''
import threading
b = threading.Barrier(16, timeout=10)
res = [0] * 16
def work(i):
    b.wait()                        # all 16 alive at once
    res[i] = sum(range(10000 * (i + 1))) > 0
ts = [threading.Thread(target=work, args=(i,)) for i in range(16)]
for t in ts: t.start()
for t in ts: t.join()
print("threads", len(ts), "results", sum(res))
'''

THREADS_JS = r'''
const { Worker } = require('worker_threads');
const shared = new Int32Array(new SharedArrayBuffer(4));
const code = `
const { parentPort, workerData } = require('worker_threads');
const c = workerData.counter;
Atomics.add(c, 0, 1);
while (Atomics.load(c, 0) < 16) Atomics.wait(c, 0, Atomics.load(c, 0), 10);
let s = 0; for (let i = 0; i < 1e6; i++) s += i % 7;
parentPort.postMessage(s > 0);
`;
let done = 0, ok = 0;
for (let i = 0; i < 16; i++) {
  const w = new Worker(code, { eval: true, workerData: { counter: shared } });
  w.on('message', (m) => { ok += m ? 1 : 0; });
  w.on('exit', () => { if (++done === 16) console.log('threads 16 alive-together ' + Atomics.load(shared, 0) + ' results ' + ok); });
  w.on('error', (e) => { console.error('worker error: ' + e.message); process.exitCode = 3; });
}
'''


THREADS_C = r'''
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static pthread_barrier_t b;
static long res[16];
static void *work(void *arg) {
    long id = (long)arg, s = 0;
    volatile char stack[256 * 1024];
    for (unsigned i = 0; i < sizeof stack; i += 4096) stack[i] = (char)id;
    pthread_barrier_wait(&b);                     /* all 16 alive at once */
    for (int i = 0; i < 1000000; i++) s += i % (id + 2);
    res[id] = s + stack[0] - id > 0;
    return NULL;
}
int main(void) {
    pthread_t t[16];
    long total = 0;
    pthread_barrier_init(&b, NULL, 16);
    for (long i = 0; i < 16; i++) pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < 16; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 16; i++) total += res[i];
    printf("threads 16 results %ld\n", total);
    return 0;
}
'''

THREADS_JAVA = r'''
import java.util.concurrent.*;
public class Main {
    public static void main(String[] a) throws Exception {
        CyclicBarrier b = new CyclicBarrier(16);
        long[] res = new long[16];
        Thread[] ts = new Thread[16];
        for (int i = 0; i < 16; i++) {
            final int id = i;
            ts[i] = new Thread(() -> {
                try { b.await(10, TimeUnit.SECONDS); } catch (Exception e) { return; }
                long s = 0;
                for (int k = 0; k < 1000000; k++) s += k % (id + 2);
                res[id] = s > 0 ? 1 : 0;
            });
            ts[i].start();
        }
        long total = 0;
        for (Thread t : ts) t.join();
        for (long r : res) total += r;
        System.out.println("threads 16 results " + total);
    }
}
'''


def threads_case(lang, code, want):
    d, _ = execute({"language": lang, "code": code, "timeoutMs": 15000})
    check(d["status"] == "ok", "%s: 16 threads: status %s, expected ok" % (lang, d["status"]), brief(d))
    check(d["stdout"] == want, "%s: output %r, expected %r" % (lang, d["stdout"], want), brief(d))


def test_cpp_16_threads_at_default_limits():
    threads_case("cpp", THREADS_CPP, "threads 16 alive-together 16 results 16\n")


def test_py_16_threads_at_default_limits():
    threads_case("python", THREADS_PY, "threads 16 results 16\n")


def test_js_16_worker_threads_at_default_limits():
    threads_case("javascript", THREADS_JS, "threads 16 alive-together 16 results 16\n")


def test_c_16_threads_at_default_limits():
    threads_case("c", THREADS_C, "threads 16 results 16\n")


def test_java_16_threads_at_default_limits():
    threads_case("java", THREADS_JAVA, "threads 16 results 16\n")


# ---------------------------------------------------------------------------------------------
# item 7: memory is still limited (by what the program uses)
# ---------------------------------------------------------------------------------------------

HOGS = {
    "python": "x = []\nwhile True:\n    x.append(bytearray(b'\\1') * (16 << 20))\n",
    "javascript": "const a = [];\nfor (;;) a.push(Buffer.alloc(16 << 20, 1));\n",
    "cpp": "#include <cstring>\n#include <vector>\nint main(){ std::vector<char*> v; for(;;){ "
           "char *p = new char[16<<20]; memset(p, 1, 16<<20); v.push_back(p); } }\n",
    "c": "#include <stdlib.h>\n#include <string.h>\nint main(void){ for(;;){ char *p = malloc(16<<20); "
         "memset(p, 1, 16<<20); } }\n",
    "java": "import java.util.*;\npublic class Main { public static void main(String[] a) { "
            "List<byte[]> l = new ArrayList<>(); for (;;) l.add(new byte[16 << 20]); } }\n",
}

HUGE = {
    "python": "b = bytearray(1 << 42)\nprint(len(b))\n",
    "cpp": "#include <cstdio>\nint main(){ char *p = new char[1ull << 42]; "
           "printf(\"%p\\n\", (void *)p); }\n",  # printed: the allocation cannot be elided
}


def test_memory_hog_is_memory_limit_at_default_memory():
    problems = []
    for lang, code in HOGS.items():
        d, _ = execute({"language": lang, "code": code, "timeoutMs": 15000})
        if d["status"] != "memory_limit":
            problems.append("%s hog: %s" % (lang, brief(d)))
    for lang, code in HUGE.items():
        d, _ = execute({"language": lang, "code": code, "timeoutMs": 10000})
        if d["status"] != "memory_limit":
            problems.append("%s 4 TiB allocation: %s" % (lang, brief(d)))
    check(not problems, "expected memory_limit:\n  " + "\n  ".join(map(str, problems)))


# ---------------------------------------------------------------------------------------------
# item 8: output floods under load
# ---------------------------------------------------------------------------------------------

FLOODS = {
    "python": [
        ("print loop", "while True:\n    print('flood line flood line')\n"),
        ("stdout.write loop", "import sys\nwhile True:\n    sys.stdout.write('x' * 100)\n"),
        ("one huge string", "print('h' * (20 << 20))\n"),
        ("stderr print loop", "import sys\nwhile True:\n    print('err line', file=sys.stderr)\n"),
    ],
    "cpp": [
        ("cout loop", "#include <iostream>\nint main(){ for(;;) std::cout << \"flood line\\n\"; }\n"),
        ("printf loop", "#include <cstdio>\nint main(){ for(long i = 0;; i++) printf(\"line %ld\\n\", i); }\n"),
        ("write loop", "#include <unistd.h>\nint main(){ char b[100]; for (auto &c : b) c = 'w'; "
                       "for(;;) (void)!write(1, b, sizeof b); }\n"),
        ("one huge string", "#include <iostream>\n#include <string>\nint main(){ std::string s(20 << 20, 'h'); "
                            "std::cout << s; }\n"),
    ],
    "javascript": [
        ("console.log loop", "for (;;) console.log('flood line flood line');\n"),
        ("stdout.write loop", "for (;;) process.stdout.write('x'.repeat(100));\n"),
        ("one huge string", "process.stdout.write('h'.repeat(20 << 20));\n"),
        ("console.error loop", "for (let i = 0;; i++) console.error('err line ' + i);\n"),
    ],
}

# C and Java: their own round (below), so that the first keeps its load of 4 floods per slot.
FLOODS_C_JAVA = {
    "c": [
        ("printf loop", "#include <stdio.h>\nint main(void){ for(long i = 0;; i++) printf(\"line %ld\\n\", i); }\n"),
        ("fputs stderr loop", "#include <stdio.h>\nint main(void){ for(;;) fputs(\"err line\\n\", stderr); }\n"),
    ],
    "java": [
        ("println loop", "public class Main { public static void main(String[] a) { for (long i = 0;; i++) "
                         "System.out.println(\"line \" + i); } }\n"),
        ("one huge string", "public class Main { public static void main(String[] a) { "
                            "System.out.print(\"h\".repeat(20 << 20)); } }\n"),
    ],
}

FLOOD_TIMEOUT_MS = 15000


def flood_problem(lang, name, d, dt):
    total = len(d["stdout"].encode()) + len(d["stderr"].encode())
    if d["status"] != "output_limit":
        return "%s %s: status %s, expected output_limit: %s" % (lang, name, d["status"], brief(d))
    if d.get("truncated") is not True or not (0 < total <= MiB):
        return "%s %s: truncated %s, %d bytes kept (cap 1 MiB)" % (lang, name, d.get("truncated"), total)
    # Promptly: at the cap, long before the run's own timeout (generous: a loaded 2-core VM).
    if d["durationMs"] > FLOOD_TIMEOUT_MS / 2:
        return "%s %s: the flood ran %d ms before it was stopped (timeout %d ms)" % (
            lang, name, d["durationMs"], FLOOD_TIMEOUT_MS)
    return None


def test_floods_under_load_end_output_limit():
    """4 floods per language at once (every slot of every language) plus normal requests that wait
    for a slot; every flood ends output_limit, and the normal requests then run."""
    floods_under_load(FLOODS)


def test_c_and_java_floods_under_load_end_output_limit():
    """The same for C and Java, 2 floods each at once, and normal requests. Their programs are
    compiled first, one at a time (the compile cache keeps them): three JVMs compiling at once
    on a loaded machine take most of the job budget this suite gives (8 s), and the round is
    about the output cap, not the compiler."""
    floods_under_load(FLOODS_C_JAVA, warm=True)


def floods_under_load(table, warm=False):
    jobs = []
    normal = {"python": "print(6 * 7)\n", "javascript": "console.log(6 * 7);\n",
              "cpp": "#include <cstdio>\nint main(){ printf(\"%d\\n\", 6 * 7); }\n",
              "c": "#include <stdio.h>\nint main(void){ printf(\"%d\\n\", 6 * 7); return 0; }\n",
              "java": "public class Main { public static void main(String[] a) { "
                      "System.out.println(6 * 7); } }\n"}
    for lang, code in ([(l, c) for l, fl in table.items() for _, c in fl]
                       + [(l, c) for l, c in normal.items() if l in table] if warm else []):
        d, _ = execute({"language": lang, "code": code, "timeoutMs": 100})
        check(d["compile"]["status"] == "ok", "%s compiles" % lang, brief(d))
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for lang, floods in table.items():
            for name, code in floods:
                body = {"language": lang, "code": code, "timeoutMs": FLOOD_TIMEOUT_MS}
                jobs.append(("flood", lang, name, pool.submit(execute, body)))
        time.sleep(0.2)
        for lang, code in normal.items():
            if lang not in table:
                continue
            jobs.append(("normal", lang, "", pool.submit(execute, {"language": lang, "code": code})))
        problems = []
        for kind, lang, name, fut in jobs:
            try:
                d, dt = fut.result(timeout=240)
            except Exception as e:  # noqa: report every failure together
                problems.append("%s %s %s: %s" % (kind, lang, name, e))
                continue
            if kind == "flood":
                p = flood_problem(lang, name, d, dt)
            else:
                p = None if d["status"] == "ok" and d["stdout"] == "42\n" else \
                    "normal %s request during the floods: %s" % (lang, brief(d))
            if p:
                problems.append(p)
    check(not problems, "%d of %d:\n  " % (len(problems), len(jobs)) + "\n  ".join(problems))


def test_js_flood_with_small_memory_is_output_limit():
    """With the smallest memory a run may ask for, a Node flood still ends at the output cap (it used
    to pile its output up in the heap and die of SIGABRT: memory_limit)."""
    for name, code in FLOODS["javascript"][:2]:
        d, dt = execute({"language": "javascript", "code": code, "timeoutMs": FLOOD_TIMEOUT_MS,
                         "memoryMb": 64})
        p = flood_problem("javascript", name, d, dt)
        check(p is None, p or "")


def test_js_fork_in_another_dir_runs():
    """The preload is inherited by fork()ed children (process.execArgv); one started in another
    directory must still find it."""
    code = r'''
const { fork } = require('child_process');
if (process.argv[2] === 'child') { console.log('child in ' + process.cwd()); process.exit(0); }
fork(__filename, ['child'], { cwd: '/' }).on('exit', (c) => console.log('child exit ' + c));
'''
    d, _ = execute({"language": "javascript", "code": code, "timeoutMs": 10000})
    check(d["status"] == "ok" and d["stdout"] == "child in /\nchild exit 0\n", "fork with cwd /", brief(d))


# ---------------------------------------------------------------------------------------------
# item 9: the job's time budget (the gateway runs with --job-budget-ms 8000)
# ---------------------------------------------------------------------------------------------

def test_budget_skips_cases_that_do_not_fit():
    """Ten looping cases of 5 s each in an 8 s budget: case 0 times out after 5 s, case 1 gets the
    ~3 s left and times out, cases 2-9 are not run (skipped), and the answer says why. (The loop
    sleeps: a spinning case that waits for a CPU on a busy machine is credited that wait within
    the budget, and could leave case 1 nothing; see launcher.c.)"""
    t0 = time.time()
    d, dt = execute({"language": "python", "code": "import time\nwhile True:\n    time.sleep(0.05)\n",
                     "tests": [{"input": str(i), "timeoutMs": 5000} for i in range(10)]})
    tests = d["tests"]
    check(d["budgetExceeded"] is True, "budgetExceeded must be true", brief(d))
    check("8000 ms" in d.get("reason", "") and "8 of 10" in d["reason"], "reason: %r" % d.get("reason"), brief(d))
    check([t["status"] for t in tests] == ["timeout", "timeout"] + ["skipped"] * 8,
          "statuses %s" % [t["status"] for t in tests], brief(d))
    check(tests[1]["durationMs"] < 5000, "case 1 was cut to what was left: %d ms" % tests[1]["durationMs"])
    check(d["skipped"] == 8 and d["failed"] == 2 and d["passed"] == 0, "counts", brief(d))
    check(d["status"] == "timeout", "top-level status keeps its meaning (the first failing case)", brief(d))
    check(time.time() - t0 < BUDGET_MS / 1000 + 10, "the request took %.1f s (budget 8 s)" % (time.time() - t0))
    logged = [l for l in G.log_lines() if l.get("event") == "request" and l.get("budgetExceeded") is True]
    check(logged and logged[-1].get("status") == "timeout", "the request log line says budgetExceeded", logged[-1:])


def test_budget_leaves_fitting_jobs_alone():
    d, _ = execute({"language": "python", "code": "print(int(input()) * 2)\n",
                    "tests": [{"input": str(i), "expectedOutput": str(2 * i)} for i in range(20)]})
    check(d["budgetExceeded"] is False and "reason" not in d, "no budget note", brief(d))
    check(d["passed"] == 20 and d["skipped"] == 0 and d["status"] == "ok", "all 20 ran", brief(d))


def test_budget_counts_the_compile():
    """C++: the compile's time counts, so three 4 s loops in the 8 s budget cannot all run."""
    t0 = time.time()
    code = "#include <cstdio>\nint main(){ volatile unsigned long n = 0; for(;;) n++; }\n// %f\n" % time.time()
    d, _ = execute({"language": "cpp", "code": code,
                    "tests": [{"timeoutMs": 4000}, {"timeoutMs": 4000}, {"timeoutMs": 4000}]})
    st = [t["status"] for t in d["tests"]]
    check(d["compile"]["status"] == "ok" and not d["compile"]["cached"], "a fresh compile", brief(d))
    check(d["budgetExceeded"] is True, "budgetExceeded", brief(d))
    check(st[0] == "timeout" and st[2] == "skipped", "statuses %s" % st, brief(d))
    ran = sum(t.get("durationMs", 0) for t in d["tests"])
    check(ran + d["compile"]["durationMs"] <= BUDGET_MS + 1500,
          "compile %d ms + runs %d ms within the budget" % (d["compile"]["durationMs"], ran))
    check(time.time() - t0 < BUDGET_MS / 1000 + 15, "the request took %.1f s" % (time.time() - t0))


def test_budget_cuts_a_single_run():
    """Run mode without tests: a 30 s timeout is cut to the 8 s budget."""
    t0 = time.time()
    d, _ = execute({"language": "javascript", "code": "for (;;) {}\n", "timeoutMs": 30000})
    check(d["status"] == "timeout" and d["budgetExceeded"] is True, "timeout, budgetExceeded", brief(d))
    check("ran out during the last run" in d.get("reason", ""), "reason %r" % d.get("reason"))
    check(d["durationMs"] < 30000 and time.time() - t0 < BUDGET_MS / 1000 + 10,
          "cut to the budget: ran %d ms, request %.1f s" % (d["durationMs"], time.time() - t0))


TESTS = [
    test_cpp_16_threads_at_default_limits, test_py_16_threads_at_default_limits,
    test_js_16_worker_threads_at_default_limits, test_c_16_threads_at_default_limits,
    test_java_16_threads_at_default_limits, test_memory_hog_is_memory_limit_at_default_memory,
    test_floods_under_load_end_output_limit, test_c_and_java_floods_under_load_end_output_limit,
    test_js_flood_with_small_memory_is_output_limit,
    test_js_fork_in_another_dir_runs,
    test_budget_skips_cases_that_do_not_fit, test_budget_leaves_fitting_jobs_alone,
    test_budget_counts_the_compile, test_budget_cuts_a_single_run,
]


def main():
    global G
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("limits (%s)" % " ".join(extra))
    # 4 slots per executor, not the machine's sizing: the floods fill every slot at once.
    G = Gateway(build, ["--slots", "4"] + extra + ["--job-budget-ms", str(BUDGET_MS)],
                name="limits").start(ready_timeout=1800)
    try:
        r.run_all(G, TESTS, timeout=300)
    finally:
        if G.proc and G.proc.poll() is None:
            G.stop()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())

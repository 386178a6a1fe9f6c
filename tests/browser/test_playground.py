#!/usr/bin/python3
"""Browser suite: the playground page at / in headless Chromium, driven by Selenium.

    /usr/bin/python3 tests/browser/test_playground.py BUILD_DIR

Starts its own gateway (local runtime), opens the page, runs the Python example and other
programs with Run and Ctrl+Enter, checks that API errors are shown, the editor's Tab keys, then
an interactive C++ session (the prompt appears, an answer typed into the console changes the
output, the exit line is shown), EOF and Kill in a Python session, and finally the C++ example with Run and Interactive, saved
as a screenshot to BUILD_DIR/playground.png. The last line is `N passed, N failed`; the exit code is non-zero on
any failure.

Needs Debian's chromium, chromium-driver and python3-selenium (no network, no Selenium Manager:
the driver and browser paths are given explicitly).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Gateway, Runner, check, http  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WATCHDOG_S = 420  # the whole suite, whatever hangs
WAIT_S = 30       # one wait for the page
COMPILE_WAIT_S = 90

G = None        # the gateway
D = None        # the WebDriver
BUILD = None
RUNNER = None

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    IMPORT_ERROR = None
except ImportError as e:  # reported as a failed test, with the package to install
    IMPORT_ERROR = e


# ---- helpers ----

def q(id_):
    return D.find_element(By.ID, id_)


def text(id_):
    return D.execute_script("return document.getElementById(arguments[0]).textContent;", id_)


def wait(pred, what, limit=WAIT_S):
    """Polls pred() until it is truthy; fails with what and the page's state after limit s."""
    try:
        return WebDriverWait(D, limit, poll_frequency=0.1).until(lambda _d: pred())
    except Exception:
        state = D.execute_script(
            "const t = id => (document.getElementById(id) || {}).textContent;"
            "return {result: t('result'), console: t('console-output'),"
            " consoleStatus: t('console-status'), gateway: t('gateway-status')};")
        raise AssertionError("timed out after %ss waiting for %s; page: %r" % (limit, what, state))


def set_field(id_, value):
    """Sets a textarea's value as a paste would (an input event follows)."""
    D.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event('input', {bubbles: true}));", id_, value)


def choose_language(lang):
    Select(q("language")).select_by_value(lang)
    check(q("language").get_attribute("value") == lang, "language %s selected" % lang)


def result_done():
    if q("run").get_attribute("disabled"):
        return False
    st = text("result-status")
    return q("result-error").is_displayed() or (st and st != "running…")


def run_and_wait(click=True, limit=COMPILE_WAIT_S):
    if click:
        q("run").click()
    else:
        q("code").send_keys(Keys.CONTROL, Keys.ENTER)
    wait(result_done, "the Run result", limit)


def console_has(s):
    return s in text("console-output")


# ---- tests ----

def test_page_served():
    for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")):
        with urllib.request.urlopen(G.url + path, timeout=10) as r:
            check(r.status == 200 and r.headers["Content-Type"].startswith(ctype),
                  "%s: %s %s" % (path, r.status, r.headers["Content-Type"]))
    D.get(G.url + "/")
    check("codegate" in D.title, "title %r" % D.title)
    for id_ in ("language", "reset-example", "run", "interactive", "code", "stdin", "result",
                "console", "console-output", "console-input", "console-eof", "console-kill"):
        check(D.find_elements(By.ID, id_), "control #%s exists" % id_)
    for id_ in ("language", "code", "stdin", "console-input"):
        labels = D.find_elements(By.CSS_SELECTOR, 'label[for="%s"]' % id_)
        check(labels, "#%s has a label" % id_)
    wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
    # The menu is the gateway's language table (GET /api/languages), names as people write them.
    opts = Select(q("language")).options
    values = [o.get_attribute("value") for o in opts]
    st, doc, _ = http("GET", G.url + "/api/languages")
    table = [(e["language"], e["displayName"]) for e in doc["data"]]
    check(values == [v for v, _ in table] and values[:3] == ["python", "javascript", "cpp"],
          "language options %r" % values)
    names = [o.text for o in opts]
    check(names == [n for _, n in table], "language names %r" % names)
    check(q("language").get_attribute("value") == "python", "python chosen first")
    check((opts[0].get_attribute("title") or "").startswith("Python 3."), "version in the title")
    check("Python 3." in text("gateway-status"), text("gateway-status"))


def test_examples_prompt_for_input():
    for lang, needle in (("python", "input("), ("javascript", "rl.question("), ("cpp", "std::cin"),
                         ("c", "scanf("), ("java", "new Scanner(System.in)")):
        choose_language(lang)
        check(needle in q("code").get_attribute("value"), "%s example reads input" % lang)
        check(q("stdin").get_attribute("value").strip(), "%s example has input" % lang)
    choose_language("python")


def test_run_python_example():
    choose_language("python")
    q("reset-example").click()
    run_and_wait()
    check(text("result-status") == "ok", "status %r" % text("result-status"))
    out = text("result-stdout")
    check("Hello, Ada!" in out and "you will be 37" in out, "stdout %r" % out)
    check(text("result-exitcode") == "exit code 0", text("result-meta"))
    check(text("result-time").endswith("ms") or text("result-time").endswith(" s"), text("result-meta"))
    check(text("result-memory").startswith("memory "), text("result-meta"))
    check(q("result-stderr-block").get_attribute("hidden") is not None, "no stderr block")


def test_run_c_and_java_examples():
    # The languages added as table entries: their examples run with their example input.
    for lang, needle in (("c", "4 squared is 16"), ("java", "3: ===")):
        choose_language(lang)
        q("reset-example").click()
        run_and_wait()
        check(text("result-status") == "ok", "%s status %r" % (lang, text("result-status")))
        check(needle in text("result-stdout"), "%s stdout %r" % (lang, text("result-stdout")))
    choose_language("python")


def test_run_typed_input_and_ctrl_enter():
    choose_language("python")
    set_field("code", 'import sys\nn = int(input())\nprint("twice", 2 * n)\n'
                      'print("<b>not html</b>", file=sys.stderr)\nsys.exit(3)\n')
    stdin = q("stdin")
    stdin.clear()
    stdin.send_keys("21")
    run_and_wait(click=False)  # Ctrl+Enter in the editor
    check(text("result-status") == "runtime_error", "status %r" % text("result-status"))
    check(text("result-stdout") == "twice 42\n", "stdout %r" % text("result-stdout"))
    check(text("result-stderr") == "<b>not html</b>\n", "stderr %r" % text("result-stderr"))
    check(not D.find_elements(By.CSS_SELECTOR, "#result-stderr b"), "output is text, not HTML")
    check(text("result-exitcode") == "exit code 3", text("result-meta"))


def test_run_cpp_compile_error_and_api_error():
    choose_language("cpp")
    set_field("code", "int main() { return missing_name; }\n")
    run_and_wait()
    check(text("result-status") == "compile_error", "status %r" % text("result-status"))
    check("missing_name" in text("result-stderr"), "diagnostics %r" % text("result-stderr"))
    set_field("code", "#" * (300 * 1024))  # over the 256 KiB code limit: 413 from the API
    run_and_wait()
    check(q("result-error").is_displayed(), "the API error is shown")
    err = text("result-error")
    check("payload_too_large" in err and "413" in err, "error text %r" % err)
    q("reset-example").click()
    choose_language("python")


def test_editor_tab_keys():
    choose_language("python")
    set_field("code", "x = 1")
    code = q("code")
    code.click()
    D.execute_script("arguments[0].setSelectionRange(0, 0);", code)
    code.send_keys(Keys.TAB)
    check(code.get_attribute("value") == "    x = 1", "Tab indents: %r" % code.get_attribute("value"))
    code.send_keys(Keys.SHIFT, Keys.TAB)
    check(code.get_attribute("value") == "x = 1", "Shift+Tab outdents: %r" % code.get_attribute("value"))
    check(D.switch_to.active_element == code, "focus stays in the editor")
    q("reset-example").click()


CPP_INTERACTIVE = r'''#include <iostream>
#include <string>
int main() {
    int n = 0;
    std::string name;
    std::cerr << "note: this line is on stderr" << std::endl;
    std::cout << "n? ";
    std::cin >> n;
    std::cout << "square " << n * n << std::endl;
    std::cout << "name? ";
    std::cin >> name;
    std::cout << "bye " << name << std::endl;
    return 0;
}
'''


def test_interactive_cpp():
    choose_language("cpp")
    set_field("code", CPP_INTERACTIVE)
    q("interactive").click()
    check(q("console").is_displayed(), "the console opens")
    wait(lambda: console_has("n? "), "the C++ prompt 'n? '", COMPILE_WAIT_S)
    check("square" not in text("console-output"), "nothing past the prompt before input")
    box = q("console-input")
    wait(lambda: box.is_enabled(), "the console input to be enabled")
    box.send_keys("7", Keys.ENTER)
    wait(lambda: console_has("square 49"), "the answer-dependent output 'square 49'")
    wait(lambda: console_has("name? "), "the second prompt")
    box.send_keys("Ada", Keys.ENTER)
    wait(lambda: console_has("bye Ada"), "'bye Ada'")
    wait(lambda: "exit code 0" in text("console-status"), "the exit status line")
    check("status ok" in text("console-output"), "exit line in the console: %r" % text("console-output"))
    errs = D.execute_script("return Array.from(document.querySelectorAll('#console-output .err'))"
                            ".map(e => e.textContent).join('');")
    check("note: this line is on stderr" in errs, "stderr shown in its own colour: %r" % errs)
    ins = D.execute_script("return Array.from(document.querySelectorAll('#console-output .in'))"
                           ".map(e => e.textContent).join('');")
    check(ins == "7\nAda\n", "typed lines echoed: %r" % ins)
    check(not box.is_enabled(), "input disabled after exit")


def test_interactive_eof_and_kill():
    choose_language("python")
    set_field("code", 'import sys\nfor line in sys.stdin:\n    print(line.strip().upper())\n'
                      'print("done")\n')
    q("interactive").click()
    wait(lambda: q("console-input").is_enabled(), "the console input to be enabled")
    q("console-input").send_keys("abc", Keys.ENTER)
    wait(lambda: console_has("ABC\n"), "'ABC'")
    q("console-eof").click()
    wait(lambda: console_has("done"), "'done' after EOF")
    wait(lambda: "exit code 0" in text("console-status"), "exit after EOF")

    set_field("code", 'import time\nprint("tick", flush=True)\nwhile True:\n    time.sleep(0.05)\n')
    q("interactive").click()
    wait(lambda: console_has("tick"), "'tick'")
    wait(lambda: q("console-kill").is_enabled(), "Kill enabled")
    q("console-kill").click()
    wait(lambda: "cancelled" in text("console-status") or "killed" in text("console-status"),
         "the killed program's exit line")
    q("console-close").click()
    check(not q("console").is_displayed(), "the console closes")
    q("reset-example").click()
    choose_language("python")


def test_screenshot():
    """The C++ example run with Run and in the console, as a teacher would first see it."""
    path = os.path.join(BUILD, "playground.png")
    if os.path.exists(path):
        os.unlink(path)
    choose_language("cpp")
    q("reset-example").click()
    run_and_wait()
    check(text("result-status") == "ok" and "*****" in text("result-stdout"), text("result"))
    q("interactive").click()
    box = q("console-input")
    wait(lambda: console_has("Your name? ") and box.is_enabled(), "the example's prompt",
         COMPILE_WAIT_S)
    box.send_keys("Grace", Keys.ENTER)
    wait(lambda: console_has("How many stars, Grace? "), "the second prompt")
    box.send_keys("3", Keys.ENTER)
    wait(lambda: "exit code 0" in text("console-status"), "the exit status line")
    check(console_has("*\n**\n***\n"), "stars: %r" % text("console-output"))
    D.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
    D.save_screenshot(path)
    with open(path, "rb") as f:
        head = f.read(8)
    check(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 10000, "PNG at %s" % path)


# ---- set-up ----

def start_driver(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1400,1000"):
        opts.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_path=os.path.join(BUILD, "test-logs",
                                                                           "chromedriver.log"))
    drv = webdriver.Chrome(service=service, options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    return drv


def kill_tree(pid):
    """SIGKILLs pid and its descendants (only processes this suite started)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    for child in out.stdout.split():
        kill_tree(int(child))
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def watchdog():
    print("[FAIL] watchdog: the suite did not finish within %ss" % WATCHDOG_S, flush=True)
    try:
        if D is not None and D.service.process:
            kill_tree(D.service.process.pid)
        if G is not None and G.proc:
            G.proc.kill()
    finally:
        p = RUNNER.passed if RUNNER else 0
        f = (RUNNER.failed if RUNNER else 0) + 1
        print("%d passed, %d failed" % (p, f), flush=True)
        os._exit(1)


def main():
    global G, D, BUILD, RUNNER
    if len(sys.argv) < 2:
        sys.exit("usage: test_playground.py BUILD_DIR [gateway args, default --runtime local]")
    BUILD = os.path.abspath(sys.argv[1])
    os.makedirs(os.path.join(BUILD, "test-logs"), exist_ok=True)
    RUNNER = Runner("browser")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if IMPORT_ERROR or missing:
        print("[FAIL] prerequisites: %s; install with: apt-get install -y chromium chromium-driver "
              "python3-selenium" % (IMPORT_ERROR or "missing " + ", ".join(missing)), flush=True)
        RUNNER.failed += 1
        return RUNNER.finish()

    dog = threading.Timer(WATCHDOG_S, watchdog)
    dog.daemon = True
    dog.start()
    profile = tempfile.mkdtemp(prefix="codegate-chromium-")
    try:
        # docs/playground.png is taken with --runtime docker: what `make run` serves.
        G = Gateway(BUILD, sys.argv[2:] or ["--runtime", "local"], name="browser").start(
            ready_timeout=1800)
        D = start_driver(profile)
        tests = [test_page_served, test_examples_prompt_for_input, test_run_python_example,
                 test_run_c_and_java_examples, test_run_typed_input_and_ctrl_enter, test_run_cpp_compile_error_and_api_error,
                 test_editor_tab_keys, test_interactive_cpp, test_interactive_eof_and_kill,
                 test_screenshot]
        for t in tests:
            RUNNER.run(t, timeout=150)
    except Exception as e:  # start-up failed: one failure, and the reason
        print("[FAIL] set-up: %s" % e, flush=True)
        RUNNER.failed += 1
    finally:
        if D is not None:
            try:
                D.quit()
            except Exception:
                if D.service.process:
                    kill_tree(D.service.process.pid)
        if G is not None:
            G.stop()
        shutil.rmtree(profile, ignore_errors=True)
        dog.cancel()
    return RUNNER.finish()


if __name__ == "__main__":
    sys.exit(main())

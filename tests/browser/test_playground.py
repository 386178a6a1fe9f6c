#!/usr/bin/python3
"""Browser suite: the playground page at / in headless Chromium, driven by Selenium.

    /usr/bin/python3 tests/browser/test_playground.py BUILD_DIR

Starts its own gateway (local runtime), opens the page, checks the page's headers (CSP) and the
vendored CodeMirror editor (line numbers, highlighting per language, no CSP violation), runs the
Python example and other programs with Run and Ctrl+Enter, checks that API errors are shown, the
editor's Tab keys, Stop on an endless loop (Run and Interactive), the settings (time limit,
arguments), test cases with pass/fail and a diff, the Files tab (a module the program imports,
files written to out/ listed and an image shown inline), a share link opened in a new tab, the
large-text toggle (kept over a reload), then an interactive C++ session (the prompt appears, an
answer typed into the console changes the output, the exit line is shown), EOF and Kill in a
Python session, and finally the C++ example with Run and Interactive, saved as a screenshot to
BUILD_DIR/playground.png. The last line is `N passed, N failed`; the exit code is non-zero on any
failure.

Needs Debian's chromium, chromium-driver and python3-selenium (no network, no Selenium Manager:
the driver and browser paths are given explicitly).
"""
import base64
import json
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
WATCHDOG_S = 560  # the whole suite, whatever hangs (run-tests.sh gives it 600 s)
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
    """Sets a textarea's value as a paste would (an input event follows); "code" is the editor."""
    if id_ == "code":
        D.execute_script("document.querySelector('#editor').CodeMirror.setValue(arguments[0]);", value)
        return
    D.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event('input', {bubbles: true}));", id_, value)


def set_elem(elem, value):
    """The same for an element found otherwise (the Files and Tests tabs' fields)."""
    D.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", elem, value)


def code():
    return D.execute_script("return document.querySelector('#editor').CodeMirror.getValue();")


def editor_input():
    """The editor's own hidden textarea, where CodeMirror takes the keys."""
    return D.find_element(By.CSS_SELECTOR, "#editor textarea")


def tab(name):
    q("tab-" + name).click()
    check(q("panel-" + name).is_displayed(), "the %s tab opens" % name)


def remove_all():
    """Removes every extra file and test case with their Remove buttons (a failed test's leftovers)."""
    for name, sel in (("files", "#file-list .file-remove"), ("tests", "#test-list .test-remove")):
        tab(name)
        while D.find_elements(By.CSS_SELECTOR, sel):
            D.find_elements(By.CSS_SELECTOR, sel)[0].click()
    tab("input")


def choose_language(lang):
    Select(q("language")).select_by_value(lang)
    check(q("language").get_attribute("value") == lang, "language %s selected" % lang)


def result_done():
    if q("run").get_attribute("disabled"):
        return False
    st = text("result-status")
    return q("result-error").is_displayed() or (st and not st.startswith("running"))


def run_and_wait(click=True, limit=COMPILE_WAIT_S):
    if click:
        q("run").click()
    else:
        editor_input().send_keys(Keys.CONTROL, Keys.ENTER)
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
        check(needle in code(), "%s example reads input" % lang)
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
    for lang, needle in (("c", "\n*****\n"), ("java", "\n*****\n")):
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
    D.execute_script("const cm = document.querySelector('#editor').CodeMirror;"
                     "cm.focus(); cm.setCursor(0, 0);")
    box = editor_input()
    box.send_keys(Keys.TAB)
    check(code() == "    x = 1", "Tab indents: %r" % code())
    box.send_keys(Keys.SHIFT, Keys.TAB)
    check(code() == "x = 1", "Shift+Tab outdents: %r" % code())
    check(D.switch_to.active_element == box, "focus stays in the editor")
    box.send_keys(Keys.ESCAPE)
    box.send_keys(Keys.TAB)
    check(D.switch_to.active_element != box and code() == "x = 1",
          "Esc then Tab leaves the editor: %r" % code())
    q("reset-example").click()


def csp_violations():
    return D.execute_script("return window.__cspViolations || [];")


def test_editor_and_csp():
    with urllib.request.urlopen(G.url + "/", timeout=10) as r:
        csp = r.headers["Content-Security-Policy"] or ""
    check("script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp,
          "CSP %r" % csp)
    for path, ctype in (("/vendor/codemirror/lib/codemirror.js", "text/javascript"),
                        ("/vendor/codemirror/lib/codemirror.css", "text/css"),
                        ("/vendor/codemirror/mode/clike/clike.js", "text/javascript"),
                        ("/diff.js", "text/javascript"), ("/share.js", "text/javascript")):
        with urllib.request.urlopen(G.url + path, timeout=10) as r:
            check(r.status == 200 and r.headers["Content-Type"].startswith(ctype),
                  "%s: %s %s" % (path, r.status, r.headers["Content-Type"]))
    for path in ("/vendor/", "/vendor//codemirror/LICENSE", "/vendor/./codemirror/LICENSE",
                 "/vendor/codemirror/.hidden", "/vendor/codemirror/../../app.js"):
        st, doc, _ = http("GET", G.url + path)
        check(st == 404, "%s -> %s" % (path, st), doc)
    D.get(G.url + "/")
    wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
    choose_language("python")
    q("reset-example").click()
    check(D.find_elements(By.CSS_SELECTOR, "#editor.CodeMirror .CodeMirror-code"), "CodeMirror editor")
    nums = [e.text for e in D.find_elements(By.CSS_SELECTOR, "#editor .CodeMirror-linenumber")]
    check("1" in nums and "6" in nums, "line numbers %r" % nums[:8])
    kws = [e.text for e in D.find_elements(By.CSS_SELECTOR, "#editor .cm-keyword")]
    check("for" in kws and "in" in kws, "Python keywords highlighted: %r" % kws)
    check(D.find_elements(By.CSS_SELECTOR, "#editor .cm-string"), "strings highlighted")
    choose_language("cpp")
    metas = [e.text for e in D.find_elements(By.CSS_SELECTOR, "#editor .cm-meta")]
    check(any("#include" in m for m in metas), "C++ preprocessor highlighted: %r" % metas)
    kws = [e.text for e in D.find_elements(By.CSS_SELECTOR, "#editor .cm-keyword, #editor .cm-type")]
    check("return" in kws and "int" in kws, "C++ keywords highlighted: %r" % kws)
    choose_language("python")
    check(csp_violations() == [], "no CSP violation: %r" % csp_violations())


LOOP_PY = 'print("looping", flush=True)\nwhile True:\n    pass\n'


def test_stop_endless_loop():
    choose_language("python")
    tab("settings")
    set_elem(q("timeout"), "20000")
    set_field("code", LOOP_PY)
    q("run").click()
    wait(lambda: q("stop").is_enabled(), "Stop enabled while the program runs")
    check(not q("run").is_enabled(), "Run disabled while running")
    q("stop").click()
    wait(lambda: text("result-status") == "stopped", "the stopped status")
    check(q("run").is_enabled() and not q("stop").is_enabled(), "Run enabled again, Stop disabled")
    # The aborted fetch closed the connection: the gateway stopped the program (not after 20 s).
    wait(lambda: any(l.get("event") == "request" and l.get("http") == 499 and
                     l.get("status") == "client_closed_request" for l in G.log_lines()),
         "the gateway stopped the program (499 client_closed_request in its log)", limit=10)
    # Interactive: Stop kills the program in the console.
    q("interactive").click()
    wait(lambda: console_has("looping"), "'looping' in the console")
    wait(lambda: q("stop").is_enabled(), "Stop enabled for the session")
    q("stop").click()
    wait(lambda: "cancelled" in text("console-status") or "killed" in text("console-status"),
         "the stopped session's exit line")
    wait(lambda: not q("stop").is_enabled(), "Stop disabled after the session ended")
    q("console-close").click()
    set_elem(q("timeout"), "5000")
    tab("input")


def test_settings_sent():
    choose_language("python")
    tab("settings")
    set_elem(q("timeout"), "300")
    set_field("code", LOOP_PY)
    run_and_wait()
    check(text("result-status") == "timeout", "a 300 ms limit ends the loop: %r" % text("result"))
    set_elem(q("timeout"), "5000")
    set_elem(q("args"), "first\nsecond arg")
    set_field("code", "import sys\nprint(sys.argv[1:])\n")
    run_and_wait()
    check(text("result-stdout") == "['first', 'second arg']\n", "args: %r" % text("result-stdout"))
    set_elem(q("args"), "")
    set_elem(q("memory"), "8")  # under the API's minimum: the gateway's 400 is shown
    run_and_wait()
    check(q("result-error").is_displayed() and "memoryMb" in text("result-error"),
          "memory out of range: %r" % text("result-error"))
    set_elem(q("memory"), "256")
    tab("input")


TESTS_PY = "n = int(input())\nprint(n * 2)\nprint('done')\n"


def test_cases_pass_fail_diff():
    choose_language("python")
    remove_all()
    set_field("code", TESTS_PY)
    tab("tests")
    for _ in range(3):
        q("test-add").click()
    ins = D.find_elements(By.CSS_SELECTOR, "#test-list .test-input")
    exps = D.find_elements(By.CSS_SELECTOR, "#test-list .test-expected")
    check(len(ins) == 3 and len(exps) == 3, "three cases")
    for box, v in zip(ins, ("2\n", "3\n", "9\n")):
        set_elem(box, v)
    for box, v in zip(exps, ("4\ndone\n", "7\ndone\n", "x\n")):
        set_elem(box, v)
    D.find_elements(By.CSS_SELECTOR, "#test-list .test-remove")[2].click()
    check(len(D.find_elements(By.CSS_SELECTOR, "#test-list .item")) == 2, "a case removed")
    check(text("tests-count") == "(2)", "count on the tab: %r" % text("tests-count"))
    q("test-run").click()
    wait(result_done, "the test results", COMPILE_WAIT_S)
    check("1 passed, 1 failed" in text("result-tests-summary"), text("result-tests-summary"))
    check(q("case-result-0").get_attribute("data-passed") == "true", text("case-result-0"))
    check(q("case-result-1").get_attribute("data-passed") == "false", text("case-result-1"))
    rows = D.execute_script("return Array.from(document.querySelectorAll('#case-result-1 pre.diff"
                            " span'), e => [e.className, e.textContent]);")
    check(rows == [["del", "- 7\n"], ["ins", "+ 6\n"], ["same", "  done\n"]], "diff rows %r" % rows)
    check(not D.find_elements(By.CSS_SELECTOR, "#case-result-0 pre.diff"), "no diff for a pass")
    for b in D.find_elements(By.CSS_SELECTOR, "#test-list .test-remove"):
        D.find_elements(By.CSS_SELECTOR, "#test-list .test-remove")[0].click()
    check(not D.find_elements(By.CSS_SELECTOR, "#test-list .item"), "all cases removed")
    tab("input")


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_files_tab():
    """Needs the API's `files` (request and response): a module the program imports, out/ files."""
    choose_language("python")
    remove_all()
    tab("files")
    q("file-add").click()
    q("file-add").click()
    names = D.find_elements(By.CSS_SELECTOR, "#file-list .file-name")
    check(len(names) == 2, "two files")
    set_elem(names[0], "util.py")
    set_elem(D.find_elements(By.CSS_SELECTOR, "#file-list .file-content")[0],
             "def twice(x):\n    return 2 * x\n")
    D.find_elements(By.CSS_SELECTOR, "#file-list .file-remove")[1].click()
    check(len(D.find_elements(By.CSS_SELECTOR, "#file-list .item")) == 1, "a file removed")
    check(text("files-count") == "(1)", "count on the tab: %r" % text("files-count"))
    set_field("code", "import base64, os, util\nprint(util.twice(21))\n"
                      "os.makedirs('out', exist_ok=True)\n"
                      "open('out/dot.png', 'wb').write(base64.b64decode('%s'))\n"
                      "open('out/data.txt', 'w').write('a,b\\n')\n" % PNG_1PX)
    run_and_wait()
    check(text("result-status") == "ok" and text("result-stdout") == "42\n",
          "the program imports util.py: %r" % text("result"))
    links = {a.text: a for a in D.find_elements(By.CSS_SELECTOR, "#result-files a.out-file-link")}
    check(set(links) == {"dot.png", "data.txt"}, "returned files listed: %r" % list(links))
    check(all(a.get_attribute("download") and a.get_attribute("href").startswith("blob:")
              for a in links.values()), "download links")
    body = D.execute_async_script(
        "const done = arguments[1];"
        "fetch(arguments[0]).then(r => r.text()).then(done, e => done(String(e)));",
        links["data.txt"].get_attribute("href"))
    check(body == "a,b\n", "the download link's content: %r" % body)
    imgs = D.find_elements(By.CSS_SELECTOR, "#result-files img.out-image")
    check(len(imgs) == 1 and imgs[0].get_attribute("src").startswith("data:image/png;base64,"),
          "image shown inline")
    wait(lambda: D.execute_script("return arguments[0].complete && arguments[0].naturalWidth;",
                                  imgs[0]) == 1, "the image decoded")
    check(csp_violations() == [], "no CSP violation: %r" % csp_violations())
    D.find_elements(By.CSS_SELECTOR, "#file-list .file-remove")[0].click()
    tab("input")


def test_files_upload():
    """Upload… adds files from disk: UTF-8 text as an editable file, anything else as base64."""
    choose_language("python")
    remove_all()
    tab("files")
    tmp = tempfile.mkdtemp(prefix="codegate-upload-")
    try:
        text_path = os.path.join(tmp, "words.txt")
        bin_path = os.path.join(tmp, "blob.bin")
        with open(text_path, "w", encoding="utf-8") as f:
            f.write("un café\n")
        with open(bin_path, "wb") as f:
            f.write(bytes(range(256)))
        q("file-upload").send_keys(text_path + "\n" + bin_path)
        wait(lambda: len(D.find_elements(By.CSS_SELECTOR, "#file-list .item")) == 2, "two uploads")
        names = [e.get_attribute("value") for e in D.find_elements(By.CSS_SELECTOR, "#file-list .file-name")]
        check(sorted(names) == ["blob.bin", "words.txt"], "names %r" % names)
        items = D.find_elements(By.CSS_SELECTOR, "#file-list .item")
        by_name = {i.find_element(By.CSS_SELECTOR, ".file-name").get_attribute("value"): i for i in items}
        check(by_name["words.txt"].find_element(By.CSS_SELECTOR, "textarea").get_attribute("value")
              == "un café\n", "text upload editable")
        blob = by_name["blob.bin"].text
        check("Binary file, 256 B" in blob, "binary upload: %r" % blob)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    remove_all()


def test_share_link_round_trip():
    choose_language("python")
    remove_all()
    shared_code = "# shared\nimport sys\nprint(sys.stdin.read().upper())\n"
    set_field("code", shared_code)
    set_field("stdin", "from the link\n")
    tab("files")
    q("file-add").click()
    set_elem(D.find_elements(By.CSS_SELECTOR, "#file-list .file-name")[0], "notes.txt")
    set_elem(D.find_elements(By.CSS_SELECTOR, "#file-list .file-content")[0], "é ünïcode ✓\n")
    tab("tests")
    q("test-add").click()
    set_elem(D.find_elements(By.CSS_SELECTOR, "#test-list .test-input")[0], "abc\n")
    set_elem(D.find_elements(By.CSS_SELECTOR, "#test-list .test-expected")[0], "ABC\n")
    tab("settings")
    set_elem(q("timeout"), "7000")
    q("share").click()
    wait(lambda: q("share-url").get_attribute("value"), "the share link")
    url = q("share-url").get_attribute("value")
    check(url.startswith(G.url + "/#z=") or url.startswith(G.url + "/#j="), "link %r" % url[:80])
    check("shared" not in url, "the program is encoded, not in clear")
    # Clean up the first page so that localStorage does not carry the same program over.
    set_elem(q("timeout"), "5000")
    remove_all()
    q("reset-example").click()
    first = D.current_window_handle
    D.switch_to.new_window("tab")
    try:
        D.get(url)
        wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
        check(code() == shared_code, "same code: %r" % code())
        check(q("language").get_attribute("value") == "python", "same language")
        check(q("stdin").get_attribute("value") == "from the link\n", "same input")
        names = D.find_elements(By.CSS_SELECTOR, "#file-list .file-name")
        check([e.get_attribute("value") for e in names] == ["notes.txt"], "same files")
        check(D.find_elements(By.CSS_SELECTOR, "#file-list .file-content")[0].get_attribute("value")
              == "é ünïcode ✓\n", "file content")
        exps = D.find_elements(By.CSS_SELECTOR, "#test-list .test-expected")
        check([e.get_attribute("value") for e in exps] == ["ABC\n"], "same tests")
        check(q("timeout").get_attribute("value") == "7000", "same time limit")
        run_and_wait()
        check(text("result-stdout") == "FROM THE LINK\n\n", "runs: %r" % text("result-stdout"))
        set_elem(q("timeout"), "5000")
        remove_all()
        q("reset-example").click()
    finally:
        D.close()
        D.switch_to.window(first)
    # The uncompressed form (#j=, for browsers without CompressionStream) opens too.
    plain = base64.urlsafe_b64encode(json.dumps(
        {"v": 1, "language": "cpp", "code": "int main() { return 0; }\n", "input": "x"}).encode())
    D.get(G.url + "/#j=" + plain.decode().rstrip("="))
    wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
    check(code() == "int main() { return 0; }\n" and q("language").get_attribute("value") == "cpp",
          "a #j= link: %r" % code())
    q("reset-example").click()
    D.get(G.url + "/")
    wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
    choose_language("python")
    tab("input")


def test_large_text():
    def size():
        return D.execute_script("return parseFloat(getComputedStyle("
                                "document.querySelector('#editor')).fontSize);")
    before = size()
    check(q("big-font").get_attribute("aria-pressed") == "false", "off at first")
    q("big-font").click()
    check(q("big-font").get_attribute("aria-pressed") == "true", "pressed")
    check(size() > before * 1.3, "editor text larger: %s -> %s" % (before, size()))
    D.refresh()
    wait(lambda: text("gateway-status").startswith("Gateway ready"), "the gateway status line")
    check(size() > before * 1.3 and q("big-font").get_attribute("aria-pressed") == "true",
          "remembered over a reload")
    q("big-font").click()
    check(size() == before, "back to normal: %s" % size())


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


def test_interactive_with_files():
    """Interactive runs get the Files tab too, and show what the program left in out/."""
    choose_language("python")
    remove_all()
    tab("files")
    q("file-add").click()
    set_elem(D.find_elements(By.CSS_SELECTOR, "#file-list .file-name")[0], "util.py")
    set_elem(D.find_elements(By.CSS_SELECTOR, "#file-list .file-content")[0],
             "def twice(x):\n    return 2 * x\n")
    set_field("code", "import base64, os, util\nn = int(input('n? '))\nprint('twice', util.twice(n))\n"
                      "os.makedirs('out', exist_ok=True)\n"
                      "open('out/dot.png', 'wb').write(base64.b64decode('%s'))\n" % PNG_1PX)
    q("interactive").click()
    wait(lambda: console_has("n? "), "the prompt")
    box = q("console-input")
    wait(lambda: box.is_enabled(), "the console input to be enabled")
    box.send_keys("21", Keys.ENTER)
    wait(lambda: console_has("twice 42"), "util.py imported in the session")
    wait(lambda: "exit code 0" in text("console-status"), "the exit status line")
    wait(lambda: D.find_elements(By.CSS_SELECTOR, "#result-files img.out-image"),
         "the session's out/ image shown")
    D.find_elements(By.CSS_SELECTOR, "#file-list .file-remove")[0].click()
    tab("input")


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
    # Two test cases, one passing and one failing, so that the verdicts and a diff are in view.
    remove_all()
    tab("tests")
    for _ in range(2):
        q("test-add").click()
    ins = D.find_elements(By.CSS_SELECTOR, "#test-list .test-input")
    exps = D.find_elements(By.CSS_SELECTOR, "#test-list .test-expected")
    set_elem(ins[0], "Ada 2\n")
    set_elem(exps[0], "Your name? How many stars, Ada? *\n**\n")
    set_elem(ins[1], "Bo 3\n")
    set_elem(exps[1], "Your name? How many stars, Bo? *\n**\n**\n")
    q("test-run").click()
    wait(result_done, "the test results", COMPILE_WAIT_S)
    check("1 passed, 1 failed" in text("result-tests-summary"), text("result-tests-summary"))
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
    # Every page records Content-Security-Policy violations, for the tests to assert none.
    drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")})
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
        tests = [test_page_served, test_editor_and_csp, test_examples_prompt_for_input,
                 test_run_python_example, test_run_c_and_java_examples,
                 test_run_typed_input_and_ctrl_enter,
                 test_run_cpp_compile_error_and_api_error, test_editor_tab_keys,
                 test_stop_endless_loop, test_settings_sent, test_cases_pass_fail_diff,
                 test_files_tab, test_files_upload, test_share_link_round_trip, test_large_text,
                 test_interactive_cpp, test_interactive_with_files, test_interactive_eof_and_kill, test_screenshot]
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

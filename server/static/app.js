/* codegate playground: a plain script, no build step and no external resources.
 *
 * Run posts the program to POST /api/code/execute and shows the JSON answer; Stop aborts that
 * request (the gateway notices the closed connection and stops the program). Run tests posts
 * the same program with the Tests tab's cases as `tests` and shows each case's verdict, with a
 * line diff (diff.js) of expected and actual output for a failed one. Interactive opens a WebSocket to
 * GET /api/code/session and wires it to a console: output frames are appended as they arrive,
 * each line typed is sent as a stdin frame; Stop and Kill end it.
 *
 * The editor is CodeMirror 5 (vendor/codemirror, a copy of Debian's libjs-codemirror), its mode
 * chosen by language name. Extra files (Files tab) go out as `files`; files the program wrote
 * under out/ come back as `files` and are listed with download links, images shown inline
 * (data: URLs; the page's Content-Security-Policy allows data: and blob: images only).
 *
 * The language list, names, versions and, when the gateway reports them, limits and allowed
 * compiler options come from GET /api/languages; EXAMPLES only holds a starting program for the
 * languages it knows. Code and input per language, files, tests and settings are kept in
 * localStorage; Share link puts all of them in the URL fragment (share.js), never on a server.
 * Program output is only ever inserted as text (textContent / text nodes), never as HTML.
 *
 * For trying the page from a file or another server, ?api=http://host:port/ points it at a gateway.
 */
"use strict";

(function () {
    const EXAMPLES = {
        python: {
            code: [
                'name = input("Your name? ")',
                'age = int(input("Your age? "))',
                "",
                'print(f"Hello, {name}!")',
                "for year in range(1, 4):",
                '    print(f"In {year} year(s) you will be {age + year}.")',
                "",
            ].join("\n"),
            input: "Ada\n36\n",
        },
        javascript: {
            code: [
                'const readline = require("readline");',
                "const rl = readline.createInterface({",
                "    input: process.stdin,",
                "    output: process.stdout,",
                "});",
                "",
                'rl.question("Your name? ", (name) => {',
                '    rl.question("Your age? ", (age) => {',
                "        console.log(`Hello, ${name}!`);",
                "        for (let year = 1; year <= 3; year++)",
                "            console.log(`In ${year} year(s) you will be ${Number(age) + year}.`);",
                "        rl.close();",
                "    });",
                "});",
                "",
            ].join("\n"),
            input: "Ada\n36\n",
        },
        cpp: {
            code: [
                "#include <iostream>",
                "#include <string>",
                "",
                "int main() {",
                "    std::string name;",
                "    int n = 0;",
                '    std::cout << "Your name? ";',
                "    std::cin >> name;",
                '    std::cout << "How many stars, " << name << "? ";',
                "    if (!(std::cin >> n)) {",
                '        std::cerr << "That is not a number." << std::endl;',
                "        return 1;",
                "    }",
                "    for (int i = 1; i <= n; i++)",
                "        std::cout << std::string(i, '*') << '\\n';",
                "    return 0;",
                "}",
                "",
            ].join("\n"),
            input: "Ada\n5\n",
        },
        c: {
            code: [
                "#include <stdio.h>",
                "",
                "int main(void) {",
                "    char name[64];",
                "    int n = 0;",
                '    printf("Your name? ");',
                '    if (scanf("%63s", name) != 1)',
                "        return 1;",
                '    printf("How many stars, %s? ", name);',
                '    if (scanf("%d", &n) != 1) {',
                '        fprintf(stderr, "That is not a number.\\n");',
                "        return 1;",
                "    }",
                "    for (int i = 1; i <= n; i++) {",
                "        for (int j = 0; j < i; j++)",
                "            putchar('*');",
                "        putchar('\\n');",
                "    }",
                "    return 0;",
                "}",
                "",
            ].join("\n"),
            input: "Ada\n5\n",
        },
        java: {
            code: [
                "import java.util.Scanner;",
                "",
                "public class Main {",
                "    public static void main(String[] args) {",
                "        Scanner in = new Scanner(System.in);",
                '        System.out.print("Your name? ");',
                "        String name = in.next();",
                '        System.out.print("How many stars, " + name + "? ");',
                "        int n = in.nextInt();",
                "        for (int i = 1; i <= n; i++)",
                '            System.out.println("*".repeat(i));',
                "    }",
                "}",
                "",
            ].join("\n"),
            input: "Ada\n5\n",
        },
    };
    const NO_EXAMPLE = { code: "", input: "" };
    /* CodeMirror modes by language name (mode/python, mode/javascript, mode/clike). */
    const MODES = {
        python: "python",
        python3: "python",
        javascript: "javascript",
        node: "javascript",
        typescript: "text/typescript",
        cpp: "text/x-c++src",
        "c++": "text/x-c++src",
        c: "text/x-csrc",
        java: "text/x-java",
        csharp: "text/x-csharp",
        kotlin: "text/x-kotlin",
        scala: "text/x-scala",
    };
    /* The API's limits (include/protocol.h) when /api/languages does not report a language's. */
    const LIMITS = { timeoutMs: [1, 30000, 5000], memoryMb: [16, 1024, 256] };
    /* GET /api/languages entries by name, filled by checkGateway(). */
    const LANGS = {};
    const STORE_KEY = "codegate.playground.v1";
    const BIG_KEY = "codegate.playground.bigText";
    const RUN_TIMEOUT_MS = 120000;

    const $ = (id) => document.getElementById(id);
    const el = {
        gateway: $("gateway-status"),
        bigFont: $("big-font"),
        language: $("language"),
        reset: $("reset-example"),
        share: $("share"),
        shareBox: $("share-box"),
        shareUrl: $("share-url"),
        shareNote: $("share-note"),
        run: $("run"),
        stop: $("stop"),
        interactive: $("interactive"),
        code: $("code"),
        mainName: $("main-name"),
        cursor: $("cursor-pos"),
        stdin: $("stdin"),
        fileList: $("file-list"),
        fileAdd: $("file-add"),
        fileUpload: $("file-upload"),
        filesCount: $("files-count"),
        testList: $("test-list"),
        testAdd: $("test-add"),
        testRun: $("test-run"),
        testsCount: $("tests-count"),
        timeout: $("timeout"),
        memory: $("memory"),
        args: $("args"),
        optionsText: $("options-text"),
        optionsChecks: $("options-checks"),
        settingsNote: $("settings-note"),
        placeholder: $("result-placeholder"),
        error: $("result-error"),
        summary: $("result-summary"),
        status: $("result-status"),
        meta: $("result-meta"),
        testsBlock: $("result-tests-block"),
        testsSummary: $("result-tests-summary"),
        testsOut: $("result-tests"),
        stdoutBlock: $("result-stdout-block"),
        stdout: $("result-stdout"),
        stderrBlock: $("result-stderr-block"),
        stderr: $("result-stderr"),
        compileBlock: $("result-compile-block"),
        compile: $("result-compile"),
        filesBlock: $("result-files-block"),
        filesOut: $("result-files"),
        console: $("console"),
        consoleStatus: $("console-status"),
        consoleOut: $("console-output"),
        consoleInput: $("console-input"),
        consoleSend: $("console-send"),
        consoleEof: $("console-eof"),
        consoleKill: $("console-kill"),
        consoleClose: $("console-close"),
    };

    /* ---- where the gateway is ---- */

    function apiBase() {
        const p = new URLSearchParams(location.search).get("api");
        if (p)
            return p.endsWith("/") ? p : p + "/";
        if (location.protocol === "http:" || location.protocol === "https:")
            return location.origin + location.pathname;
        return "http://127.0.0.1:5000/";
    }

    function apiUrl(path) {
        return new URL(path, apiBase()).href;
    }

    function wsUrl(path) {
        const u = new URL(path, apiBase());
        u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
        u.hash = "";
        u.search = "";
        return u.href;
    }

    /* ---- small formatting helpers ---- */

    function fmtMs(ms) {
        if (typeof ms !== "number")
            return "?";
        return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(2) + " s";
    }

    function fmtKb(kb) {
        if (typeof kb !== "number")
            return "?";
        return kb < 1024 ? kb + " KiB" : (kb / 1024).toFixed(1) + " MiB";
    }

    function fmtBytes(n) {
        if (typeof n !== "number")
            return "?";
        return n < 1024 ? n + " B" : fmtKb(Math.round(n / 102.4) / 10);
    }

    /* The byte length of base64 text. */
    function b64Size(b64) {
        const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
        return Math.floor(b64.length * 3 / 4) - pad;
    }

    function setText(node, text) {
        node.textContent = text;
    }

    function make(tag, props, children) {
        const n = document.createElement(tag);
        for (const k in props || {}) {
            if (k === "dataset")
                Object.assign(n.dataset, props[k]);
            else if (k in n)
                n[k] = props[k];
            else
                n.setAttribute(k, props[k]);
        }
        for (const c of children || [])
            n.append(c);
        return n;
    }

    /* ---- the editor (CodeMirror 5) ---- */

    let escArmed = false;
    const editor = CodeMirror.fromTextArea(el.code, {
        lineNumbers: true,
        indentUnit: 4,
        tabSize: 4,
        indentWithTabs: false,
        matchBrackets: true,
        autoCloseBrackets: true,
        viewportMargin: Infinity, /* the whole program is in the DOM: find-in-page works */
        extraKeys: {
            Tab: (cm) => {
                if (cm.somethingSelected())
                    cm.indentSelection("add");
                else
                    cm.replaceSelection(" ".repeat(4 - (cm.getCursor().ch % 4)));
            },
            "Shift-Tab": (cm) => cm.indentSelection("subtract"),
        },
    });
    editor.getWrapperElement().id = "editor";
    /* Esc then Tab (or Shift+Tab): CodeMirror ignores that Tab, the browser moves the focus. */
    editor.on("keydown", (_cm, e) => {
        if (e.key === "Tab" && escArmed)
            e.codemirrorIgnore = true;
        if (e.key !== "Shift")
            escArmed = e.key === "Escape";
    });

    function setMode(lang) {
        const l = LANGS[lang] || {};
        const mode = MODES[lang] || MODES[String(l.runtime || "").toLowerCase()] ||
                     (l.aliases || []).map((a) => MODES[a]).find(Boolean) || "text/plain";
        editor.setOption("mode", mode);
    }

    function updateCursor() {
        const c = editor.getCursor();
        setText(el.cursor, "Line " + (c.line + 1) + ", column " + (c.ch + 1));
    }

    /* ---- state: code and input per language, files, tests, settings; kept in localStorage ---- */

    const state = {
        language: "python",
        code: {},
        input: {},
        files: [],   /* [{name, content, encoding}] */
        tests: [],   /* [{input, expected}] */
        settings: { timeoutMs: null, memoryMb: null, args: "", options: {} },
    };

    function adopt(s) {
        if (!s || typeof s !== "object")
            return;
        if (typeof s.language === "string")
            state.language = s.language;
        if (s.code && typeof s.code === "object")
            state.code = s.code;
        if (s.input && typeof s.input === "object")
            state.input = s.input;
        if (Array.isArray(s.files))
            state.files = s.files.filter((f) => f && typeof f.name === "string" &&
                                                typeof f.content === "string")
                              .map((f) => ({ name: f.name, content: f.content,
                                             encoding: f.encoding === "base64" ? "base64" : "utf8" }));
        if (Array.isArray(s.tests))
            state.tests = s.tests.filter((t) => t && typeof t === "object")
                              .map((t) => ({ input: String(t.input || ""),
                                             expected: String(t.expected || "") }));
        if (s.settings && typeof s.settings === "object") {
            const g = s.settings;
            state.settings = {
                timeoutMs: Number.isInteger(g.timeoutMs) ? g.timeoutMs : null,
                memoryMb: Number.isInteger(g.memoryMb) ? g.memoryMb : null,
                args: typeof g.args === "string" ? g.args : "",
                options: g.options && typeof g.options === "object" ? g.options : {},
            };
        }
    }

    function loadState() {
        try {
            adopt(JSON.parse(localStorage.getItem(STORE_KEY) || "null"));
        } catch (_) {
            /* private mode or a broken entry: start from the examples */
        }
    }

    let saveTimer = 0;
    function writeState() {
        clearTimeout(saveTimer);
        saveTimer = 0;
        try {
            localStorage.setItem(STORE_KEY, JSON.stringify(state));
        } catch (_) {
            /* storage full or disabled: editing still works */
        }
    }

    /* Saves a moment after the last edit, or at once when the page goes away (pagehide). */
    function saveState() {
        state.code[state.language] = editor.getValue();
        state.input[state.language] = el.stdin.value;
        clearTimeout(saveTimer);
        saveTimer = setTimeout(writeState, 300);
    }

    function showLanguage(lang) {
        state.language = lang;
        el.language.value = lang;
        const code = state.code[lang];
        const input = state.input[lang];
        const example = EXAMPLES[lang] || NO_EXAMPLE;
        setMode(lang);
        /* the input first: setValue() fires the editor's change event, which saves both */
        el.stdin.value = typeof input === "string" ? input : example.input;
        editor.setValue(typeof code === "string" ? code : example.code);
        editor.clearHistory();
        editor.setCursor(0, 0);
        updateCursor();
        showSettings();
    }

    function resetExample() {
        const lang = el.language.value;
        delete state.code[lang];
        delete state.input[lang];
        showLanguage(lang);
        saveState();
        editor.focus();
    }

    /* ---- tabs ---- */

    const TABS = ["input", "files", "tests", "settings"];

    function selectTab(name, focus) {
        for (const t of TABS) {
            const tab = $("tab-" + t);
            const on = t === name;
            tab.setAttribute("aria-selected", on ? "true" : "false");
            tab.tabIndex = on ? 0 : -1;
            $("panel-" + t).hidden = !on;
            if (on && focus)
                tab.focus();
        }
    }

    function onTabKey(e) {
        const i = TABS.indexOf(e.target.id.replace("tab-", ""));
        if (i < 0 || (e.key !== "ArrowRight" && e.key !== "ArrowLeft"))
            return;
        e.preventDefault();
        selectTab(TABS[(i + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length], true);
    }

    /* ---- Files tab: extra files sent with the program ---- */

    function renderFiles() {
        el.fileList.replaceChildren();
        state.files.forEach((f, i) => {
            const nameId = "file-name-" + i;
            const bodyId = "file-content-" + i;
            const name = make("input", { type: "text", id: nameId, className: "file-name",
                                         value: f.name, spellcheck: false, autocomplete: "off" });
            name.addEventListener("input", () => { f.name = name.value.trim(); saveState(); });
            const remove = make("button", { type: "button", className: "quiet danger file-remove",
                                            textContent: "Remove",
                                            title: "Remove " + (f.name || "this file") });
            remove.addEventListener("click", () => {
                state.files.splice(i, 1);
                renderFiles();
                saveState();
            });
            let body;
            if (f.encoding === "base64") {
                body = make("p", { id: bodyId, className: "help" },
                            ["Binary file, " + fmtBytes(b64Size(f.content)) +
                             " (uploaded; sent as base64)."]);
            } else {
                body = make("textarea", { id: bodyId, className: "code file-content",
                                          spellcheck: false, wrap: "off", value: f.content });
                body.addEventListener("input", () => { f.content = body.value; saveState(); });
            }
            el.fileList.append(make("li", { className: "item" }, [
                make("div", { className: "item-head" }, [
                    make("label", { htmlFor: nameId, textContent: "Name" }), name, remove,
                ]),
                make("label", { htmlFor: bodyId, className: "visually-hidden",
                                textContent: "Content of file " + (i + 1) }),
                body,
            ]));
        });
        setText(el.filesCount, state.files.length ? "(" + state.files.length + ")" : "");
    }

    function addFile(name, content, encoding) {
        state.files.push({ name, content, encoding: encoding || "utf8" });
        renderFiles();
        saveState();
    }

    function nextFileName() {
        const ext = { python: ".py", javascript: ".js", cpp: ".hpp", c: ".h", java: ".java" };
        const taken = new Set(state.files.map((f) => f.name));
        for (let i = 1;; i++) {
            const n = (i === 1 ? "util" : "util" + i) + (ext[state.language] || ".txt");
            if (!taken.has(n))
                return n;
        }
    }

    function bytesToBase64(bytes) {
        let bin = "";
        for (let i = 0; i < bytes.length; i += 0x8000)
            bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return btoa(bin);
    }

    async function uploadFiles() {
        for (const file of Array.from(el.fileUpload.files || [])) {
            const bytes = new Uint8Array(await file.arrayBuffer());
            try {
                addFile(file.name, new TextDecoder("utf-8", { fatal: true }).decode(bytes), "utf8");
            } catch (_) {
                addFile(file.name, bytesToBase64(bytes), "base64");
            }
        }
        el.fileUpload.value = "";
    }

    /* ---- Tests tab: cases of input and expected output ---- */

    function renderTests() {
        el.testList.replaceChildren();
        state.tests.forEach((t, i) => {
            const inId = "test-input-" + i;
            const exId = "test-expected-" + i;
            const input = make("textarea", { id: inId, className: "code test-input", spellcheck: false,
                                             wrap: "off", value: t.input });
            input.addEventListener("input", () => { t.input = input.value; saveState(); });
            const expected = make("textarea", { id: exId, className: "code test-expected",
                                                spellcheck: false, wrap: "off", value: t.expected });
            expected.addEventListener("input", () => { t.expected = expected.value; saveState(); });
            const remove = make("button", { type: "button", className: "quiet danger test-remove",
                                            textContent: "Remove", title: "Remove case " + (i + 1) });
            remove.addEventListener("click", () => {
                state.tests.splice(i, 1);
                renderTests();
                saveState();
            });
            el.testList.append(make("li", { className: "item" }, [
                make("div", { className: "item-head" }, [
                    make("span", { className: "case-name", textContent: "Case " + (i + 1) }), remove,
                ]),
                make("div", { className: "case-grid" }, [
                    make("div", {}, [make("label", { htmlFor: inId, textContent: "Input" }), input]),
                    make("div", {}, [make("label", { htmlFor: exId, textContent: "Expected output" }),
                                     expected]),
                ]),
            ]));
        });
        setText(el.testsCount, state.tests.length ? "(" + state.tests.length + ")" : "");
        el.testRun.disabled = !state.tests.length || running;
    }

    /* ---- Settings tab: limits, arguments, compiler options ---- */

    /* [min, max, default] of a limit: the language's own when /api/languages reports it
     * (limits: {timeoutMs: {min, max, default}} or {maxTimeoutMs: N}), else the API's. */
    function limitRange(lang, key) {
        const r = LIMITS[key].slice();
        const lim = LANGS[lang] && LANGS[lang].limits;
        if (lim && typeof lim === "object") {
            const v = lim[key];
            const cap = key.charAt(0).toUpperCase() + key.slice(1);
            if (v && typeof v === "object") {
                if (Number.isInteger(v.min))
                    r[0] = v.min;
                if (Number.isInteger(v.max))
                    r[1] = v.max;
                if (Number.isInteger(v.default))
                    r[2] = v.default;
            } else if (Number.isInteger(v)) {
                r[1] = v;
            }
            if (Number.isInteger(lim["max" + cap]))
                r[1] = lim["max" + cap];
            if (Number.isInteger(lim["min" + cap]))
                r[0] = lim["min" + cap];
            if (Number.isInteger(lim["default" + cap]))
                r[2] = lim["default" + cap];
        }
        return r;
    }

    /* The language's allowed compiler options, when /api/languages lists them (options or
     * allowedOptions: strings or {value|name|option} objects); null when it does not. */
    function allowedOptions(lang) {
        const l = LANGS[lang];
        if (!l)
            return null;
        let list = Array.isArray(l.options) ? l.options
                 : Array.isArray(l.allowedOptions) ? l.allowedOptions
                 : l.options && Array.isArray(l.options.allowed) ? l.options.allowed : null;
        if (!list)
            return null;
        list = list.map((o) => typeof o === "string" ? o
                               : o && (o.value || o.name || o.option)).filter((o) => typeof o === "string");
        return list;
    }

    /* The options chosen for lang; with an allow-list, only those still on it. */
    function chosenOptions(lang) {
        const o = state.settings.options[lang];
        const allowed = allowedOptions(lang);
        return Array.isArray(o) ? o.filter((x) => typeof x === "string" &&
                                                 (!allowed || allowed.indexOf(x) >= 0)) : [];
    }

    function showSettings() {
        const lang = state.language;
        const s = state.settings;
        const t = limitRange(lang, "timeoutMs");
        const m = limitRange(lang, "memoryMb");
        el.timeout.min = t[0];
        el.timeout.max = t[1];
        el.timeout.value = s.timeoutMs !== null ? s.timeoutMs : t[2];
        el.memory.min = m[0];
        el.memory.max = m[1];
        el.memory.value = s.memoryMb !== null ? s.memoryMb : m[2];
        el.args.value = s.args;
        setText(el.settingsNote, "Time " + t[0] + "–" + t[1] + " ms, memory " + m[0] + "–" + m[1] +
                                 " MiB for " + displayName(lang) + ".");
        const allowed = allowedOptions(lang);
        const chosen = chosenOptions(lang);
        el.optionsChecks.replaceChildren();
        el.optionsText.hidden = !!allowed;
        el.optionsChecks.hidden = !allowed;
        if (allowed) {
            allowed.forEach((opt, i) => {
                const id = "option-" + i;
                const box = make("input", { type: "checkbox", id, value: opt,
                                            checked: chosen.indexOf(opt) >= 0 });
                box.addEventListener("change", () => {
                    s.options[lang] = Array.from(el.optionsChecks.querySelectorAll("input:checked"),
                                                 (b) => b.value);
                    saveState();
                });
                el.optionsChecks.append(make("span", { className: "check" },
                                             [box, make("label", { htmlFor: id, textContent: opt })]));
            });
            if (!allowed.length)
                el.optionsChecks.append(make("span", { className: "help-inline",
                                                       textContent: "none for this language" }));
        } else {
            el.optionsText.value = chosen.join(" ");
        }
    }

    function readSettings() {
        const s = state.settings;
        const num = (input) => {
            const v = Number(input.value);
            return input.value.trim() !== "" && Number.isInteger(v) ? v : null;
        };
        s.timeoutMs = num(el.timeout);
        s.memoryMb = num(el.memory);
        s.args = el.args.value;
        if (!el.optionsText.hidden)
            s.options[state.language] = el.optionsText.value.split(/\s+/).filter(Boolean);
        saveState();
    }

    /* ---- big text for a projector ---- */

    function setBigText(on) {
        document.documentElement.classList.toggle("big", on);
        el.bigFont.setAttribute("aria-pressed", on ? "true" : "false");
        try {
            localStorage.setItem(BIG_KEY, on ? "1" : "0");
        } catch (_) {
            /* not remembered: still applied */
        }
        editor.refresh();
    }

    /* ---- Run and Run tests: POST /api/code/execute ---- */

    let running = false;
    let runCtl = null;      /* the AbortController of the request in flight */
    let fileUrls = [];      /* blob: URLs of the last result's download links */

    function clearResult() {
        el.placeholder.hidden = true;
        el.error.hidden = true;
        setText(el.error, "");
        el.summary.hidden = true;
        for (const b of [el.stdoutBlock, el.stderrBlock, el.compileBlock, el.testsBlock, el.filesBlock])
            b.hidden = true;
        for (const p of [el.stdout, el.stderr, el.compile, el.testsSummary])
            setText(p, "");
        el.testsOut.replaceChildren();
        el.filesOut.replaceChildren();
        for (const u of fileUrls)
            URL.revokeObjectURL(u);
        fileUrls = [];
        el.meta.replaceChildren();
    }

    function showApiError(text) {
        el.summary.hidden = true;
        setText(el.status, "");
        el.error.hidden = false;
        setText(el.error, text);
    }

    function describeError(httpStatus, err, retryAfter) {
        if (!err || typeof err !== "object")
            return "HTTP " + httpStatus + ": the gateway answered without an error description.";
        let text = (err.code || "error") + " (HTTP " + httpStatus + "): " + (err.message || "");
        const d = err.details;
        if (d && typeof d === "object") {
            if (d.field)
                text += "\nfield: " + d.field + (d.reason ? " — " + d.reason : "");
            else if (d.reason)
                text += "\n" + d.reason;
            if (Array.isArray(d.supported))
                text += "\nsupported languages: " + d.supported.join(", ");
            if (Array.isArray(d.allowed))
                text += "\nallowed: " + d.allowed.join(" ");
        }
        if (retryAfter)
            text += "\nTry again in " + retryAfter + " s.";
        return text;
    }

    function addMeta(id, label, value) {
        const span = document.createElement("span");
        span.id = id;
        span.textContent = label + value;
        if (el.meta.childNodes.length)
            el.meta.append(" · ");
        el.meta.append(span);
    }

    /* One failed case's expected vs actual output as a line diff. */
    function diffView(expected, actual) {
        const rows = CG.lineDiff(expected, actual, true);
        const pre = make("pre", { className: "output diff", tabIndex: 0 });
        if (!rows.some((r) => r.op !== " ")) {
            pre.append(make("span", { className: "sys",
                                      textContent: "(the lines match; they differ only in whitespace)\n" }));
        }
        for (const r of rows) {
            const cls = r.op === "-" ? "del" : r.op === "+" ? "ins" : "same";
            pre.append(make("span", { className: cls, textContent: r.op + " " + r.text + "\n" }));
        }
        return make("div", { className: "diff-block" }, [
            make("p", { className: "help diff-legend" }, [
                make("span", { className: "del", textContent: "- expected" }), "  ",
                make("span", { className: "ins", textContent: "+ actual" }),
            ]),
            pre,
        ]);
    }

    function showTests(d) {
        const list = Array.isArray(d.tests) ? d.tests : [];
        el.testsBlock.hidden = false;
        setText(el.testsSummary, "— " + (d.passed || 0) + " passed, " + (d.failed || 0) + " failed" +
                                 (d.skipped ? ", " + d.skipped + " skipped" : ""));
        for (const t of list) {
            const i = typeof t.index === "number" ? t.index : el.testsOut.childNodes.length;
            const head = make("div", { className: "case-head" }, [
                make("span", { className: "badge " + (t.passed ? "ok" : "bad"),
                               textContent: t.passed ? "pass" : "fail" }),
                make("span", { className: "case-name", textContent: "Case " + (i + 1) }),
                make("span", { className: "meta", textContent: t.status +
                               (typeof t.durationMs === "number" ? " · " + fmtMs(t.durationMs) : "") }),
            ]);
            const li = make("li", { className: "case " + (t.passed ? "passed" : "failed"),
                                    id: "case-result-" + i, dataset: { passed: String(!!t.passed) } },
                            [head]);
            if (!t.passed && typeof t.stdout === "string" && typeof t.expectedOutput === "string")
                li.append(diffView(t.expectedOutput, t.stdout));
            if (!t.passed && t.stderr)
                li.append(make("pre", { className: "output stderr", textContent: t.stderr }));
            el.testsOut.append(li);
        }
    }

    function base64ToBytes(b64) {
        const bin = atob(b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++)
            bytes[i] = bin.charCodeAt(i);
        return bytes;
    }

    /* Files the program wrote under out/: a download link each, images also shown inline. */
    function showFiles(files) {
        el.filesBlock.hidden = false;
        for (const f of files) {
            if (!f || typeof f.name !== "string")
                continue;
            const mime = typeof f.mimeType === "string" && /^[\w.+-]+\/[\w.+-]+$/.test(f.mimeType)
                             ? f.mimeType : "application/octet-stream";
            const li = make("li", { className: "out-file" });
            if (typeof f.content !== "string") {
                li.append(f.name + " (" + fmtBytes(f.size) + ", not returned)");
                el.filesOut.append(li);
                continue;
            }
            let url;
            try {
                /* octet-stream whatever the type: a link opened rather than downloaded must not
                 * render program output (HTML, SVG) as a document of the page's origin */
                url = URL.createObjectURL(new Blob([base64ToBytes(f.content)],
                                                  { type: "application/octet-stream" }));
            } catch (_) {
                li.append(f.name + " (unreadable content)");
                el.filesOut.append(li);
                continue;
            }
            fileUrls.push(url);
            const base = f.name.split("/").pop() || "file";
            li.append(make("a", { href: url, download: base, className: "out-file-link",
                                  textContent: f.name }),
                      make("span", { className: "meta", textContent: " " + mime + ", " +
                                     fmtBytes(typeof f.size === "number" ? f.size
                                              : b64Size(f.content)) }));
            if (mime.startsWith("image/")) { /* an <img> runs no script, even of an SVG */
                li.append(make("img", { className: "out-image", alt: f.name,
                                        src: "data:" + mime + ";base64," + f.content }));
            }
            el.filesOut.append(li);
        }
    }

    function showResult(d) {
        el.summary.hidden = false;
        el.status.className = "badge " + (d.status === "ok" ? "ok" : "bad");
        setText(el.status, d.status || "?");
        if (d.status !== "compile_error") {
            if (d.signal)
                addMeta("result-exitcode", "killed by ", d.signal);
            else
                addMeta("result-exitcode", "exit code ", String(d.exitCode));
            addMeta("result-time", "time ", fmtMs(d.durationMs));
            addMeta("result-cpu", "CPU ", fmtMs(d.cpuMs));
            addMeta("result-memory", "memory ", fmtKb(d.memoryKb));
        } else if (d.compile) {
            addMeta("result-time", "compile ", fmtMs(d.compile.durationMs));
        }
        if (d.version)
            addMeta("result-version", runtimeName(d.language) + " ", d.version);
        if (d.truncated)
            addMeta("result-truncated", "", "output truncated");
        if (Array.isArray(d.tests))
            showTests(d);
        if (d.status !== "compile_error" || d.stdout) {
            el.stdoutBlock.hidden = false;
            setText(el.stdout, d.stdout || "");
        }
        if (d.stderr) {
            el.stderrBlock.hidden = false;
            setText(el.stderr, d.stderr);
        }
        if (d.compile && d.compile.stderr && d.status !== "compile_error") {
            el.compileBlock.hidden = false;
            setText(el.compile, d.compile.stderr);
        }
        if (Array.isArray(d.files) && d.files.length)
            showFiles(d.files);
    }

    /* The request body from the editor, the tabs and the settings; tests only for Run tests. */
    function requestBody(withTests) {
        readSettings();
        const lang = el.language.value;
        const s = state.settings;
        const body = { language: lang, code: editor.getValue() };
        if (!withTests)
            body.input = el.stdin.value;
        const files = state.files.filter((f) => f.name);
        if (files.length)
            body.files = files.map((f) => ({ name: f.name, content: f.content, encoding: f.encoding }));
        const args = s.args.split("\n").filter((a, i, all) => a !== "" || i < all.length - 1);
        if (args.length)
            body.args = args;
        const t = limitRange(lang, "timeoutMs");
        const m = limitRange(lang, "memoryMb");
        if (s.timeoutMs !== null && s.timeoutMs !== t[2])
            body.timeoutMs = s.timeoutMs;
        if (s.memoryMb !== null && s.memoryMb !== m[2])
            body.memoryMb = s.memoryMb;
        const opts = chosenOptions(lang);
        if (opts.length)
            body.options = opts;
        if (withTests)
            body.tests = state.tests.map((c) => ({ input: c.input, expectedOutput: c.expected }));
        return body;
    }

    function setRunning(on) {
        running = on;
        el.run.disabled = on;
        el.testRun.disabled = on || !state.tests.length;
        el.stop.disabled = !on && !session;
    }

    async function execute(withTests) {
        if (running)
            return;
        if (withTests && !state.tests.length)
            return;
        setRunning(true);
        clearResult();
        el.summary.hidden = false;
        el.status.className = "badge";
        setText(el.status, withTests ? "running tests…" : "running…");
        const body = requestBody(withTests);
        const ctl = new AbortController();
        runCtl = ctl;
        const timer = setTimeout(() => ctl.abort("timeout"), RUN_TIMEOUT_MS);
        try {
            let resp;
            try {
                resp = await fetch(apiUrl("api/code/execute"), {
                    method: "POST",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify(body),
                    signal: ctl.signal,
                });
            } catch (err) {
                if (ctl.signal.aborted && ctl.signal.reason === "stop")
                    showStopped();
                else
                    showApiError("Could not reach the gateway at " + apiUrl("api/code/execute") +
                                 ": " + (ctl.signal.aborted ? "no answer in " + RUN_TIMEOUT_MS / 1000 +
                                 " s" : String(err && err.message || err)));
                return;
            }
            const text = await resp.text();
            let doc;
            try {
                doc = JSON.parse(text);
            } catch (_) {
                showApiError("HTTP " + resp.status + ": the answer is not JSON:\n" + text.slice(0, 500));
                return;
            }
            if (!doc || doc.success !== true || !doc.data)
                showApiError(describeError(resp.status, doc && doc.error, resp.headers.get("Retry-After")));
            else
                showResult(doc.data);
        } catch (err) {
            if (ctl.signal.aborted && ctl.signal.reason === "stop")
                showStopped();
            else
                showApiError("Reading the answer failed: " + String(err && err.message || err));
        } finally {
            clearTimeout(timer);
            if (runCtl === ctl)
                runCtl = null;
            setRunning(false);
        }
    }

    function showStopped() {
        el.summary.hidden = false;
        el.status.className = "badge bad";
        setText(el.status, "stopped");
        el.meta.replaceChildren();
        addMeta("result-stopped", "", "stopped before the answer came; the gateway stops the " +
                                      "program when the request is aborted");
    }

    /* Stop: aborts the request in flight and ends the interactive program, if any. */
    function stop() {
        if (runCtl)
            runCtl.abort("stop");
        if (session)
            kill();
    }

    /* ---- Share link: everything in the URL fragment ---- */

    function snapshot() {
        readSettings();
        return {
            v: 1,
            language: el.language.value,
            code: editor.getValue(),
            input: el.stdin.value,
            files: state.files,
            tests: state.tests,
            settings: { timeoutMs: state.settings.timeoutMs, memoryMb: state.settings.memoryMb,
                        args: state.settings.args,
                        options: { [el.language.value]: chosenOptions(el.language.value) } },
        };
    }

    async function share() {
        const frag = await CG.encodeShare(snapshot());
        const url = new URL(location.href);
        url.hash = frag;
        window.history.replaceState(null, "", url.href);
        el.shareBox.hidden = false;
        el.shareUrl.value = url.href;
        el.shareUrl.focus();
        el.shareUrl.select();
        let copied = false;
        try {
            if (navigator.clipboard && window.isSecureContext) {
                await navigator.clipboard.writeText(url.href);
                copied = true;
            }
        } catch (_) {
            copied = false;
        }
        setText(el.shareNote, (copied ? "Copied. " : "Select and copy it. ") + url.href.length +
                              " characters; anyone with the link sees the program.");
    }

    /* Opens a shared link: the program replaces the language's code, files, tests and settings. */
    async function openShared() {
        if (!CG.isShareFragment(location.hash))
            return false;
        let obj;
        try {
            obj = await CG.decodeShare(location.hash);
        } catch (err) {
            showApiError("This link's program could not be read: " + String(err && err.message || err));
            return false;
        }
        const lang = typeof obj.language === "string" ? obj.language : state.language;
        adopt({ language: lang, files: obj.files || [], tests: obj.tests || [],
                settings: Object.assign({ options: {} }, obj.settings || {}) });
        state.code[lang] = obj.code;
        state.input[lang] = typeof obj.input === "string" ? obj.input : "";
        return true;
    }

    /* ---- Interactive: the WebSocket session console ---- */

    let session = null; /* { ws, lang, exited, eof, failed } of the console's current program */
    const history = [];
    let historyPos = 0;

    function setConsoleStatus(text, bad) {
        setText(el.consoleStatus, text);
        el.consoleStatus.className = "console-status" + (bad ? " bad" : "");
    }

    function setInputEnabled(on) {
        el.consoleInput.disabled = !on;
        el.consoleSend.disabled = !on;
        el.consoleEof.disabled = !on;
    }

    /* Appends text to the console, merging it into the last piece when it has the same kind. */
    function appendConsole(text, kind) {
        if (!text)
            return;
        const out = el.consoleOut;
        const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        const last = out.lastChild;
        if (last && last.nodeType === 1 && last.dataset.kind === kind && kind !== "exit") {
            last.firstChild.appendData(text);
        } else {
            const span = document.createElement("span");
            span.dataset.kind = kind;
            if (kind !== "out")
                span.className = kind;
            span.appendChild(document.createTextNode(text));
            out.appendChild(span);
        }
        if (stick)
            out.scrollTop = out.scrollHeight;
    }

    /* A notice of our own on a line of its own, whatever the program printed last. */
    function appendNotice(text, kind) {
        const all = el.consoleOut.textContent;
        appendConsole((all && !all.endsWith("\n") ? "\n" : "") + text + "\n", kind || "sys");
    }

    function describeExit(f) {
        const parts = [];
        if (f.signal)
            parts.push("killed by " + f.signal);
        else if (f.exitCode !== null && f.exitCode !== undefined)
            parts.push("exit code " + f.exitCode);
        parts.push("status " + f.status);
        parts.push(fmtMs(f.durationMs));
        parts.push("CPU " + fmtMs(f.cpuMs));
        parts.push("memory " + fmtKb(f.memoryKb));
        return parts.join(" · ");
    }

    function onFrame(s, f) {
        switch (f.type) {
        case "started":
            if (LANGS[s.lang] && LANGS[s.lang].compiled) {
                setConsoleStatus("Compiling…");
            } else {
                setConsoleStatus("Running. Type a line and press Enter to send it.");
                setInputEnabled(true);
                el.consoleInput.focus();
            }
            break;
        case "compile":
            if (f.stderr)
                appendConsole(f.stderr.endsWith("\n") ? f.stderr : f.stderr + "\n", "err");
            if (f.status === "ok") {
                setConsoleStatus("Running. Type a line and press Enter to send it.");
                setInputEnabled(true);
                el.consoleInput.focus();
            } else {
                setConsoleStatus("Compilation failed (" + f.status + ").", true);
            }
            break;
        case "stdout":
            appendConsole(f.data || "", "out");
            break;
        case "stderr":
            appendConsole(f.data || "", "err");
            break;
        case "exit":
            s.exited = true;
            setInputEnabled(false);
            el.consoleKill.disabled = true;
            appendNotice("[" + describeExit(f) + "]", "exit");
            setConsoleStatus("Finished: " + describeExit(f) + ".", f.status !== "ok");
            break;
        case "files":
            if (Array.isArray(f.files) && f.files.length)
                showFiles(f.files);
            break;
        case "error":
            s.failed = true;
            appendNotice("error " + (f.code || "") + ": " + (f.message || ""), "err");
            setConsoleStatus("Error: " + (f.message || f.code || "unknown") + ".", true);
            break;
        default:
            break;
        }
    }

    function endSession(s) {
        if (!s)
            return;
        if (s.ws.readyState === WebSocket.CONNECTING || s.ws.readyState === WebSocket.OPEN)
            s.ws.close(1000, "closed by the user");
        if (session === s)
            session = null;
        setRunning(running);
    }

    function startInteractive() {
        endSession(session);
        el.console.hidden = false;
        el.consoleOut.replaceChildren();
        setInputEnabled(false);
        el.consoleKill.disabled = true;
        const lang = el.language.value;
        const url = wsUrl("api/code/session");
        setConsoleStatus("Connecting…");
        let ws;
        try {
            ws = new WebSocket(url);
        } catch (err) {
            setConsoleStatus("Cannot open " + url + ": " + String(err && err.message || err), true);
            return;
        }
        const s = { ws, lang, exited: false, eof: false, failed: false, opened: false };
        session = s;
        setRunning(running);
        ws.onopen = () => {
            if (session !== s)
                return;
            s.opened = true;
            el.consoleKill.disabled = false;
            /* files, options and the memory limit as for Run; the time limit is the
             * session's own (a person types at the program) */
            const b = requestBody(false);
            const start = { type: "start", language: lang, code: editor.getValue(),
                            args: b.args || [] };
            for (const k of ["files", "options", "memoryMb"])
                if (b[k] !== undefined)
                    start[k] = b[k];
            ws.send(JSON.stringify(start));
            setConsoleStatus("Starting…");
        };
        ws.onmessage = (ev) => {
            if (session !== s || typeof ev.data !== "string")
                return;
            let f;
            try {
                f = JSON.parse(ev.data);
            } catch (_) {
                appendNotice("(an unreadable message from the gateway was ignored)", "err");
                return;
            }
            if (f && typeof f === "object")
                onFrame(s, f);
        };
        ws.onerror = () => {
            if (session === s && !s.opened)
                setConsoleStatus("Could not connect to " + url + ".", true);
        };
        ws.onclose = (ev) => {
            if (session !== s)
                return;
            session = null;
            setRunning(running);
            setInputEnabled(false);
            el.consoleKill.disabled = true;
            if (!s.opened)
                setConsoleStatus("Could not connect to " + url + " (the session endpoint is " +
                                 "missing or refused the connection).", true);
            else if (!s.exited && !s.failed)
                setConsoleStatus("The connection closed before the program finished" +
                                 (ev.code && ev.code !== 1000 && ev.code !== 1005
                                      ? " (code " + ev.code + (ev.reason ? ": " + ev.reason : "") + ")"
                                      : "") + ".", true);
        };
        el.console.scrollIntoView({ block: "nearest" });
    }

    function sendFrame(frame) {
        const s = session;
        if (!s || s.ws.readyState !== WebSocket.OPEN)
            return false;
        s.ws.send(JSON.stringify(frame));
        return true;
    }

    function sendLine() {
        if (!session || session.eof || el.consoleInput.disabled)
            return;
        const line = el.consoleInput.value;
        if (!sendFrame({ type: "stdin", data: line + "\n" }))
            return;
        appendConsole(line + "\n", "in"); /* the terminal does not echo: show what was typed */
        if (line && history[history.length - 1] !== line)
            history.push(line);
        historyPos = history.length;
        el.consoleInput.value = "";
    }

    function sendEof() {
        if (!session || session.eof || !sendFrame({ type: "eof" }))
            return;
        session.eof = true;
        setInputEnabled(false);
        appendNotice("(end of input)", "sys");
    }

    function kill() {
        if (sendFrame({ type: "kill" }))
            setConsoleStatus("Stopping the program…");
    }

    function onConsoleKey(e) {
        if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) {
            e.preventDefault();
            sendLine();
        } else if (e.key === "d" && e.ctrlKey && !el.consoleInput.value) {
            e.preventDefault();
            sendEof();
        } else if (e.key === "ArrowUp" && historyPos > 0) {
            e.preventDefault();
            el.consoleInput.value = history[--historyPos];
        } else if (e.key === "ArrowDown" && historyPos < history.length) {
            e.preventDefault();
            historyPos++;
            el.consoleInput.value = historyPos < history.length ? history[historyPos] : "";
        }
    }

    /* ---- the gateway's languages and versions ---- */
    /* ---- the gateway's languages and versions ---- */

    function displayName(name) {
        return (LANGS[name] && LANGS[name].displayName) || name;
    }

    function runtimeName(name) {
        return (LANGS[name] && LANGS[name].runtime) || name;
    }

    /* Fills the language menu from /api/languages, keeping the chosen language if it is there. */
    function showLanguages(list) {
        const names = [];
        for (const l of list) {
            if (!l || typeof l.language !== "string")
                continue;
            LANGS[l.language] = l;
            names.push(l.language);
        }
        if (names.join() === Array.from(el.language.options, (o) => o.value).join())
            return;
        el.language.textContent = "";
        for (const name of names) {
            const opt = document.createElement("option");
            opt.value = name;
            opt.textContent = displayName(name);
            if (LANGS[name].version)
                opt.title = runtimeName(name) + " " + LANGS[name].version;
            el.language.appendChild(opt);
        }
        showLanguage(names.indexOf(state.language) >= 0 ? state.language : names[0]);
    }

    async function checkGateway() {
        try {
            const ctl = new AbortController();
            const timer = setTimeout(() => ctl.abort(), 5000);
            const resp = await fetch(apiUrl("api/languages"), { signal: ctl.signal });
            clearTimeout(timer);
            const doc = await resp.json();
            const list = Array.isArray(doc) ? doc : doc && Array.isArray(doc.data) ? doc.data : null;
            if (!resp.ok || !list)
                throw new Error("HTTP " + resp.status);
            const parts = [];
            showLanguages(list);
            for (const l of list) {
                const runtime = l.version ? runtimeName(l.language) + " " + l.version : "";
                parts.push((runtime || displayName(l.language)) +
                           (l.ready === false ? " (not ready)" : ""));
            }
            setText(el.gateway, "Gateway ready: " + parts.join(", "));
            el.gateway.className = "gateway-status";
        } catch (err) {
            setText(el.gateway, "The gateway at " + apiUrl("") + " does not answer (" +
                                String(err && err.message || err) + ").");
            el.gateway.className = "gateway-status bad";
        }
    }

    /* ---- wiring ---- */

    async function start() {
        loadState();
        await openShared();
        let big = false;
        try {
            big = localStorage.getItem(BIG_KEY) === "1";
        } catch (_) {
            big = false;
        }
        setBigText(big);
        showLanguage(state.language);
        renderFiles();
        renderTests();
        setRunning(false);
        checkGateway();
    }

    el.language.addEventListener("change", () => {
        state.code[state.language] = editor.getValue();
        state.input[state.language] = el.stdin.value;
        readSettings();
        showLanguage(el.language.value);
        saveState();
    });
    el.reset.addEventListener("click", resetExample);
    el.share.addEventListener("click", () => {
        share().catch((err) => setText(el.shareNote, "No link: " + String(err && err.message || err)));
    });
    el.bigFont.addEventListener("click", () =>
        setBigText(!document.documentElement.classList.contains("big")));
    editor.on("change", saveState);
    editor.on("cursorActivity", updateCursor);
    el.stdin.addEventListener("input", saveState);
    for (const t of TABS) {
        $("tab-" + t).addEventListener("click", () => selectTab(t, false));
        $("tab-" + t).addEventListener("keydown", onTabKey);
    }
    el.fileAdd.addEventListener("click", () => {
        addFile(nextFileName(), "", "utf8");
        const names = el.fileList.querySelectorAll(".file-name");
        names[names.length - 1].focus();
    });
    el.fileUpload.addEventListener("change", () => { uploadFiles(); });
    el.testAdd.addEventListener("click", () => {
        state.tests.push({ input: "", expected: "" });
        renderTests();
        saveState();
        const ins = el.testList.querySelectorAll(".test-input");
        ins[ins.length - 1].focus();
    });
    el.testRun.addEventListener("click", () => execute(true));
    for (const input of [el.timeout, el.memory, el.args, el.optionsText])
        input.addEventListener("change", readSettings);
    el.run.addEventListener("click", () => execute(false));
    el.stop.addEventListener("click", stop);
    el.interactive.addEventListener("click", startInteractive);
    el.consoleInput.addEventListener("keydown", onConsoleKey);
    el.consoleSend.addEventListener("click", () => { sendLine(); el.consoleInput.focus(); });
    el.consoleEof.addEventListener("click", sendEof);
    el.consoleKill.addEventListener("click", kill);
    el.consoleClose.addEventListener("click", () => {
        endSession(session);
        el.console.hidden = true;
        el.interactive.focus();
    });
    document.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            execute(false);
        }
    });
    window.addEventListener("pagehide", () => {
        if (saveTimer)
            writeState();
    });
    window.addEventListener("hashchange", () => {
        if (CG.isShareFragment(location.hash))
            openShared().then((ok) => {
                if (ok) {
                    showLanguage(state.language);
                    renderFiles();
                    renderTests();
                }
            });
    });

    start();
})();

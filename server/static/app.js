/* codegate playground: a plain script, no build step and no external resources.
 *
 * Run posts the program to POST /api/code/execute and shows the JSON answer. Interactive opens a
 * WebSocket to GET /api/code/session (same origin, ws:// or wss:// like the page) and wires it to
 * a console: output frames are appended as they arrive, each line typed is sent as a stdin frame.
 * Program output is only ever inserted as text (textContent / text nodes), never as HTML.
 *
 * The language list, the names shown and the versions come from GET /api/languages (the
 * gateway's language table); EXAMPLES only holds a starting program for the languages it knows.
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
                '    printf("How many squares, %s? ", name);',
                '    if (scanf("%d", &n) != 1) {',
                '        fprintf(stderr, "That is not a number.\\n");',
                "        return 1;",
                "    }",
                "    for (int i = 1; i <= n; i++)",
                '        printf("%d squared is %d\\n", i, i * i);',
                "    return 0;",
                "}",
                "",
            ].join("\n"),
            input: "Ada\n4\n",
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
                '        System.out.print("How many lines, " + name + "? ");',
                "        int n = in.nextInt();",
                "        for (int i = 1; i <= n; i++)",
                '            System.out.println(i + ": " + "=".repeat(i));',
                "    }",
                "}",
                "",
            ].join("\n"),
            input: "Ada\n3\n",
        },
    };
    const NO_EXAMPLE = { code: "", input: "" };
    /* GET /api/languages entries by name, filled by checkGateway(). */
    const LANGS = {};
    const STORE_KEY = "codegate.playground.v1";
    const RUN_TIMEOUT_MS = 120000;

    const $ = (id) => document.getElementById(id);
    const el = {
        gateway: $("gateway-status"),
        language: $("language"),
        reset: $("reset-example"),
        run: $("run"),
        interactive: $("interactive"),
        code: $("code"),
        cursor: $("cursor-pos"),
        stdin: $("stdin"),
        placeholder: $("result-placeholder"),
        error: $("result-error"),
        summary: $("result-summary"),
        status: $("result-status"),
        meta: $("result-meta"),
        stdoutBlock: $("result-stdout-block"),
        stdout: $("result-stdout"),
        stderrBlock: $("result-stderr-block"),
        stderr: $("result-stderr"),
        compileBlock: $("result-compile-block"),
        compile: $("result-compile"),
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
            return location.href;
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

    function setText(node, text) {
        node.textContent = text;
    }

    /* ---- per-language code and input, kept in localStorage ---- */

    const state = { language: "python", code: {}, input: {} };

    function loadState() {
        try {
            const s = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
            if (s && typeof s.language === "string") {
                state.language = s.language;
                state.code = s.code || {};
                state.input = s.input || {};
            }
        } catch (_) {
            /* private mode or a broken entry: start from the examples */
        }
    }

    let saveTimer = 0;
    function saveState() {
        state.code[state.language] = el.code.value;
        state.input[state.language] = el.stdin.value;
        clearTimeout(saveTimer);
        saveTimer = setTimeout(() => {
            try {
                localStorage.setItem(STORE_KEY, JSON.stringify(state));
            } catch (_) {
                /* storage full or disabled: editing still works */
            }
        }, 300);
    }

    function showLanguage(lang) {
        state.language = lang;
        el.language.value = lang;
        const code = state.code[lang];
        const input = state.input[lang];
        const example = EXAMPLES[lang] || NO_EXAMPLE;
        el.code.value = typeof code === "string" ? code : example.code;
        el.stdin.value = typeof input === "string" ? input : example.input;
        el.code.setSelectionRange(0, 0);
        el.code.scrollTop = 0;
        updateCursor();
    }

    function resetExample() {
        const lang = el.language.value;
        delete state.code[lang];
        delete state.input[lang];
        showLanguage(lang);
        saveState();
        el.code.focus({ preventScroll: true });
        el.code.scrollTop = 0;
    }

    /* ---- the editor: Tab / Shift+Tab, keep indentation on Enter ---- */

    const INDENT = "    ";
    let escArmed = false;

    /* Replaces [start, end) with text, keeping the browser's undo history where it can. */
    function replaceRange(ta, start, end, text, selStart, selEnd) {
        ta.focus();
        ta.setSelectionRange(start, end);
        let done = false;
        try {
            done = document.execCommand("insertText", false, text);
        } catch (_) {
            done = false;
        }
        if (!done || ta.value.slice(start, start + text.length) !== text) {
            ta.setRangeText(text, start, end, "end");
            ta.dispatchEvent(new Event("input", { bubbles: true }));
        }
        ta.setSelectionRange(selStart, selEnd);
    }

    /* The lines touched by the selection: [first line start, end of the last line). */
    function selectedLines(ta) {
        const v = ta.value;
        const s = ta.selectionStart;
        let e = ta.selectionEnd;
        if (e > s && v[e - 1] === "\n")
            e--; /* a selection ending at a line start does not include that line */
        const from = v.lastIndexOf("\n", s - 1) + 1;
        let to = v.indexOf("\n", e);
        if (to < 0)
            to = v.length;
        return { from, to, text: v.slice(from, to) };
    }

    function indent(ta) {
        const v = ta.value;
        const s = ta.selectionStart;
        const e = ta.selectionEnd;
        if (v.slice(s, e).indexOf("\n") < 0) {
            const col = s - (v.lastIndexOf("\n", s - 1) + 1);
            const pad = " ".repeat(INDENT.length - (col % INDENT.length));
            replaceRange(ta, s, e, pad, s + pad.length, s + pad.length);
            return;
        }
        const L = selectedLines(ta);
        const lines = L.text.split("\n");
        const out = lines.map((l) => (l.length ? INDENT + l : l)).join("\n");
        replaceRange(ta, L.from, L.to, out, L.from, L.from + out.length);
    }

    function outdent(ta) {
        const s = ta.selectionStart;
        const e = ta.selectionEnd;
        const L = selectedLines(ta);
        const lines = L.text.split("\n");
        let removedFirst = 0;
        const out = lines
            .map((l, i) => {
                const m = /^( {1,4}|\t)/.exec(l);
                const n = m ? m[0].length : 0;
                if (i === 0)
                    removedFirst = n;
                return l.slice(n);
            })
            .join("\n");
        if (out === L.text)
            return;
        if (s === e) {
            const caret = Math.max(L.from, s - removedFirst);
            replaceRange(ta, L.from, L.to, out, caret, caret);
        } else {
            replaceRange(ta, L.from, L.to, out, L.from, L.from + out.length);
        }
    }

    function newlineKeepIndent(ta) {
        const v = ta.value;
        const s = ta.selectionStart;
        const lineStart = v.lastIndexOf("\n", s - 1) + 1;
        const before = v.slice(lineStart, s);
        let pad = /^[ \t]*/.exec(before)[0];
        const last = before.trimEnd().slice(-1);
        if (last === ":" || last === "{")
            pad += INDENT;
        replaceRange(ta, s, ta.selectionEnd, "\n" + pad, s + 1 + pad.length, s + 1 + pad.length);
    }

    function onEditorKey(e) {
        if (e.key === "Escape") {
            escArmed = true;
            return;
        }
        if (e.key === "Tab" && !e.ctrlKey && !e.altKey && !e.metaKey) {
            if (escArmed) { /* Esc, Tab: leave the editor like any other field */
                escArmed = false;
                return;
            }
            e.preventDefault();
            if (e.shiftKey)
                outdent(e.target);
            else
                indent(e.target);
            return;
        }
        escArmed = false;
        if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.shiftKey && !e.altKey &&
            !e.isComposing) {
            e.preventDefault();
            newlineKeepIndent(e.target);
        }
    }

    function updateCursor() {
        const v = el.code.value;
        const s = el.code.selectionStart;
        const line = v.slice(0, s).split("\n").length;
        const col = s - (v.lastIndexOf("\n", s - 1) + 1) + 1;
        setText(el.cursor, "Line " + line + ", column " + col);
    }

    /* ---- Run: POST /api/code/execute ---- */

    let running = false;

    function clearResult() {
        el.placeholder.hidden = true;
        el.error.hidden = true;
        setText(el.error, "");
        el.summary.hidden = true;
        for (const b of [el.stdoutBlock, el.stderrBlock, el.compileBlock])
            b.hidden = true;
        for (const p of [el.stdout, el.stderr, el.compile])
            setText(p, "");
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
    }

    async function run() {
        if (running)
            return;
        running = true;
        el.run.disabled = true;
        clearResult();
        el.summary.hidden = false;
        el.status.className = "badge";
        setText(el.status, "running…");
        const body = { language: el.language.value, code: el.code.value, input: el.stdin.value };
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), RUN_TIMEOUT_MS);
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
                showApiError("Could not reach the gateway at " + apiUrl("api/code/execute") +
                             ": " + (err && err.name === "AbortError" ? "no answer in " +
                             RUN_TIMEOUT_MS / 1000 + " s" : String(err && err.message || err)));
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
            showApiError("Reading the answer failed: " + String(err && err.message || err));
        } finally {
            clearTimeout(timer);
            running = false;
            el.run.disabled = false;
        }
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
        ws.onopen = () => {
            if (session !== s)
                return;
            s.opened = true;
            el.consoleKill.disabled = false;
            ws.send(JSON.stringify({ type: "start", language: lang, code: el.code.value, args: [] }));
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

    loadState();
    showLanguage(state.language);

    el.language.addEventListener("change", () => {
        state.code[state.language] = el.code.value;
        state.input[state.language] = el.stdin.value;
        showLanguage(el.language.value);
        saveState();
    });
    el.reset.addEventListener("click", resetExample);
    el.code.addEventListener("keydown", onEditorKey);
    el.code.addEventListener("input", () => { saveState(); updateCursor(); });
    for (const ev of ["keyup", "click", "select", "focus"])
        el.code.addEventListener(ev, updateCursor);
    el.stdin.addEventListener("input", saveState);
    el.run.addEventListener("click", run);
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
            run();
        }
    });

    checkGateway();
})();

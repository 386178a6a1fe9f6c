/* codegate playground: the line diff shown for a failed test case (pure; no DOM).
 *
 * CG.lineDiff(expected, actual, trim) compares the two outputs line by line with a longest
 * common subsequence and returns [{op: " " | "-" | "+", text}] in order: " " a line both have,
 * "-" a line only the expected output has, "+" a line only the program printed. With trim, lines
 * are compared without trailing blanks and trailing empty lines are dropped, like the gateway's
 * "trim" comparison (server/judge.c). Outputs over MAX_CELLS line pairs are not aligned: all
 * expected lines then all actual lines are returned as removed / added.
 */
"use strict";

(function (root) {
    const MAX_CELLS = 4000000;

    function splitLines(s, trim) {
        let lines = String(s).split("\n");
        if (lines.length && lines[lines.length - 1] === "")
            lines.pop(); /* the newline that ends the last line does not start another */
        if (trim) {
            lines = lines.map((l) => l.replace(/[ \t\r]+$/, ""));
            while (lines.length && lines[lines.length - 1] === "")
                lines.pop();
        }
        return lines;
    }

    function lineDiff(expected, actual, trim) {
        const a = splitLines(expected, trim);
        const b = splitLines(actual, trim);
        const n = a.length;
        const m = b.length;
        if ((n + 1) * (m + 1) > MAX_CELLS)
            return a.map((text) => ({ op: "-", text })).concat(b.map((text) => ({ op: "+", text })));
        /* len[i][j]: the longest common subsequence of a[i..] and b[j..] */
        const len = [];
        for (let i = 0; i <= n; i++)
            len.push(new Uint32Array(m + 1));
        for (let i = n - 1; i >= 0; i--)
            for (let j = m - 1; j >= 0; j--)
                len[i][j] = a[i] === b[j] ? len[i + 1][j + 1] + 1
                                          : Math.max(len[i + 1][j], len[i][j + 1]);
        const out = [];
        let i = 0;
        let j = 0;
        while (i < n && j < m) {
            if (a[i] === b[j]) {
                out.push({ op: " ", text: a[i] });
                i++;
                j++;
            } else if (len[i + 1][j] >= len[i][j + 1]) {
                out.push({ op: "-", text: a[i++] });
            } else {
                out.push({ op: "+", text: b[j++] });
            }
        }
        while (i < n)
            out.push({ op: "-", text: a[i++] });
        while (j < m)
            out.push({ op: "+", text: b[j++] });
        return out;
    }

    root.CG = root.CG || {};
    root.CG.lineDiff = lineDiff;
})(typeof window !== "undefined" ? window : globalThis);

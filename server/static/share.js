/* codegate playground: share links (pure; no DOM).
 *
 * A shared program lives entirely in the URL fragment, never on a server: the fragment is never
 * sent in HTTP requests, so the gateway does not see or store it.
 *
 *   #z=<base64url of deflate-raw(JSON)>   when the browser has CompressionStream
 *   #j=<base64url of UTF-8 JSON>          otherwise
 *
 * The JSON is the snapshot app.js makes ({v: 1, language, code, input, files, tests, settings});
 * CG.decodeShare() accepts both forms and resolves to that object (or rejects with an Error).
 */
"use strict";

(function (root) {
    function toBase64Url(bytes) {
        let bin = "";
        for (let i = 0; i < bytes.length; i += 0x8000)
            bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }

    function fromBase64Url(s) {
        const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
        const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++)
            bytes[i] = bin.charCodeAt(i);
        return bytes;
    }

    /* Runs bytes through a CompressionStream or DecompressionStream. */
    async function pipe(bytes, stream) {
        const resp = new Response(new Blob([bytes]).stream().pipeThrough(stream));
        return new Uint8Array(await resp.arrayBuffer());
    }

    async function encodeShare(obj) {
        const bytes = new TextEncoder().encode(JSON.stringify(obj));
        if (typeof CompressionStream === "function") {
            try {
                return "z=" + toBase64Url(await pipe(bytes, new CompressionStream("deflate-raw")));
            } catch (_) {
                /* an older browser without deflate-raw: the plain form below */
            }
        }
        return "j=" + toBase64Url(bytes);
    }

    async function decodeShare(fragment) {
        const frag = String(fragment || "").replace(/^#/, "");
        let bytes;
        if (frag.startsWith("z=")) {
            if (typeof DecompressionStream !== "function")
                throw new Error("this browser cannot open compressed links");
            bytes = await pipe(fromBase64Url(frag.slice(2)), new DecompressionStream("deflate-raw"));
        } else if (frag.startsWith("j=")) {
            bytes = fromBase64Url(frag.slice(2));
        } else {
            throw new Error("not a playground link");
        }
        const obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
        if (!obj || typeof obj !== "object" || typeof obj.code !== "string")
            throw new Error("the link holds no program");
        return obj;
    }

    root.CG = root.CG || {};
    root.CG.encodeShare = encodeShare;
    root.CG.decodeShare = decodeShare;
    root.CG.isShareFragment = (f) => /^#?[zj]=/.test(String(f || ""));
})(typeof window !== "undefined" ? window : globalThis);

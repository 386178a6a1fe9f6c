const net = require('net');
const targets = process.argv.slice(4), res = {};
let left = targets.length;
for (const t of targets) {
  const i = t.lastIndexOf(':');
  const s = net.connect(+t.slice(i + 1), t.slice(0, i));
  const end = v => { if (!(t in res)) { res[t] = v; s.destroy(); if (--left === 0) console.log(JSON.stringify(res)); } };
  s.setTimeout(1500, () => end('timeout'));
  s.on('connect', () => end('connected'));
  s.on('error', e => end(e.code));
}

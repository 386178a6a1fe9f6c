const fs = require('fs'), path = require('path');
const m = process.argv[2].split('').reverse().join('');
const lo = +process.argv[3], hi = +process.argv[4], wd = process.argv[5], key = +process.argv[6];
const me = process.getuid();
const anc = new Set([process.pid, process.ppid]);
const slot = u => u >= lo && u < hi;  // our own uid included: it may be the hostile run's
const r = { uid: me, cwd: process.cwd(), env: { ...process.env }, files: [], procs: [], ipc: [],
            workdir: false, passwd: null };
function walk(d, depth) {
  let names;
  try { names = fs.readdirSync(d); } catch (e) { return; }
  for (const n of names.slice(0, 3000)) {
    const p = path.join(d, n);
    let st;
    try { st = fs.lstatSync(p); } catch (e) { continue; }
    if (n.includes(m) || slot(st.uid)) r.files.push(`${p} (uid ${st.uid})`);
    else if (depth < 2 && st.isDirectory()) walk(p, depth + 1);
  }
}
for (const t of ['/tmp', '/var/tmp', '/dev/shm', '/dev/mqueue']) walk(t, 0);
for (const p of fs.readdirSync('/proc')) {
  if (!/^\d+$/.test(p) || anc.has(+p)) continue;
  let uids, cmd;
  try {
    const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
    uids = st.split('\n').find(l => l.startsWith('Uid:')).split(/\s+/).slice(1, 5).map(Number);
    cmd = fs.readFileSync(`/proc/${p}/cmdline`).toString('utf8').split('\0').join(' ');
  } catch (e) { continue; }
  if (uids.some(slot) || cmd.includes(m)) r.procs.push(`pid ${p} uid ${uids[0]}: ${cmd.slice(0, 160)}`);
}
const cols = { shm: [7, 9], msg: [7, 9], sem: [4, 6] };
for (const kind of Object.keys(cols)) {
  let lines;
  try { lines = fs.readFileSync('/proc/sysvipc/' + kind, 'utf8').split('\n').slice(1); } catch (e) { continue; }
  for (const l of lines) {
    const v = l.trim().split(/\s+/);
    if (v.length < 8) continue;
    if (+v[0] === key || slot(+v[cols[kind][0]]) || slot(+v[cols[kind][1]]))
      r.ipc.push(`${kind}: ${v.slice(0, 10).join(' ')}`);
  }
}
if (wd !== '-') { try { fs.lstatSync(wd); r.workdir = true; } catch (e) {} }
let h = 0x811c9dc5;
for (const b of fs.readFileSync('/etc/passwd')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
r.passwd = h.toString(16).padStart(8, '0');
console.log(JSON.stringify(r));

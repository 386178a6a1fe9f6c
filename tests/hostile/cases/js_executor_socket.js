const net = require('net');
const paths = process.argv.slice(4).filter(p => p.endsWith('.sock'));
const res = {};
let left = paths.length + 1;
const done = () => { if (--left === 0) console.log(JSON.stringify(res)); };
for (const p of paths) {
  const s = net.connect(p);
  s.on('connect', () => { res[p] = 'connected'; s.destroy(); done(); });
  s.on('error', e => { res[p] = e.code; done(); });
}
const t = net.connect(8765, '127.0.0.1');
t.setTimeout(2000, () => { res.ws = 'timeout'; t.destroy(); done(); });
t.on('connect', () => t.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
t.on('data', b => { res.ws = 'answered: ' + b.toString('latin1').split('\r\n')[0]; t.destroy(); done(); });
t.on('error', e => { res.ws = e.code; done(); });
t.on('end', () => { if (!res.ws) { res.ws = 'closed'; done(); } });

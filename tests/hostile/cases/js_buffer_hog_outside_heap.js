const bufs = []; let mb = 0;
while (mb < 768) { bufs.push(Buffer.alloc(32 << 20, 1)); mb += 32; }
console.log('allocated ' + mb + ' MiB outside the V8 heap');

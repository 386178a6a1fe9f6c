const b = Buffer.from([111,107,32,240,159,152,128,32,255,254,195,40,0,97,98,99,237,160,128,240,159,152]);
process.stdout.write(b);
process.stderr.write(b);

const a = [];
for (;;) a.push(new Array(1 << 16).fill(0).map((_, i) => ({ i })));

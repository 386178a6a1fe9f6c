const chunk = 'y'.repeat(65536);
function go() { while (process.stdout.write(chunk)) {} process.stdout.once('drain', go); }
go();

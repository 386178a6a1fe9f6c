console.log(JSON.stringify(process.env));

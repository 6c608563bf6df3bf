// Loaded with `node --import` into a CLI process: on exit, reports on stderr whether TensorFlow.js
// was loaded (tfjs-core creates its engine in the global namespace when imported).
process.on('exit', () => {
  process.stderr.write(`tfjs-loaded=${globalThis._tfengine !== undefined}\n`);
});

// Prints the Vulkan adapter Dawn (the `webgpu` npm package) finds here, or why there is none.
// Exit status 0 when there is one. Used by setup-lavapipe.sh before and after installing.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../packages/engine/package.json', import.meta.url));
let webgpu;
try {
  webgpu = await import(require.resolve('webgpu'));
} catch (e) {
  console.log(`the webgpu npm package is not installed (${e.message.split('\n')[0]}); run npm ci first`);
  process.exit(2);
}
const deadline = setTimeout(() => {
  console.log('no answer from Dawn within 60 s');
  process.exit(3);
}, 60_000);
const gpu = webgpu.create(['backend=vulkan']);
const adapter = (await gpu.requestAdapter()) ?? (await gpu.requestAdapter({ forceFallbackAdapter: true }));
clearTimeout(deadline);
if (!adapter) {
  console.log('Dawn finds no Vulkan adapter');
  process.exit(1);
}
const i = adapter.info;
console.log(`Vulkan adapter: ${i.description || i.device} (vendor '${i.vendor}', architecture '${i.architecture}', fallback ${i.isFallbackAdapter})`);
process.exit(0);

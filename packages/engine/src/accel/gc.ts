/**
 * V8's garbage collector on demand (`gc`, exposed at run time through --expose-gc): full
 * collections free the pool's dropped arrays so RSS falls; minor ones free short-lived
 * ArrayBuffers at once, so their memory is reused instead of mapped afresh (each new 4 KB page
 * costs a page fault). Where the runtime refuses, both do nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type: 'major' | 'minor' }) => void;
let gc: Gc | null | undefined;

function exposed(): Gc | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Two full collections (the first can leave buffers that only its finalisation made unreachable). */
export function collectGarbage(): void {
  const f = exposed();
  if (!f) return;
  f();
  f();
}

/** One scavenge of the young generation: frees ArrayBuffers that were just dropped. */
export function collectYoung(): void {
  exposed()?.({ type: 'minor' });
}

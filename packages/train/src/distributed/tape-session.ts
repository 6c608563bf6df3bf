/**
 * A TensorFlow.js gradient tape kept open across awaits, so the data-parallel step can forward once,
 * run the loss's asynchronous collectives, and back-propagate through the same tape.
 */
import { tf } from '@openclip/engine';
import type { Tensor, Variable } from '@openclip/engine';

/** The parts of TensorFlow.js's engine that `tf.variableGrads` uses internally to record its tape. */
interface TapeEngine {
  startTape(): void;
  endTape(): void;
  state: { gradientDepth: number; activeTape: { saved?: Tensor[] }[] | null };
}

/**
 * A gradient tape that stays open across awaits: `record` runs synchronous code under the tape
 * (the forward pass), anything may happen in between (the loss's collectives, whose own gradient
 * computations use their own tapes), and `gradients` runs `tf.variableGrads` on the recorded tape
 * plus the function it is given, then frees the tape as `tf.variableGrads` always does.
 * This reaches into the engine as TensorFlow.js 4.x builds it (`startTape`, `endTape`,
 * `state.activeTape`); `TapeSession.available()` says whether it can.
 */
export class TapeSession {
  private tape: { saved?: Tensor[] }[] | null = null;
  private constructor(private readonly engine: TapeEngine) {}

  static available(): boolean {
    const e = tf.engine() as unknown as Partial<TapeEngine>;
    return typeof e.startTape === 'function' && typeof e.endTape === 'function' && typeof e.state?.gradientDepth === 'number';
  }

  static open(): TapeSession {
    const engine = tf.engine() as unknown as TapeEngine;
    if (engine.state.gradientDepth !== 0) throw new Error('the data-parallel step cannot run inside another gradient computation');
    return new TapeSession(engine);
  }

  /** Runs `f` (synchronous) under this session's tape; returns what `f` returns, kept out of the tidy. */
  record<T extends tf.TensorContainer>(f: () => T): T {
    const e = this.engine;
    if (e.state.gradientDepth !== 0) throw new Error('the data-parallel step cannot run inside another gradient computation');
    e.startTape();
    if (this.tape) e.state.activeTape = this.tape;
    try {
      return tf.tidy(f);
    } finally {
      this.tape = e.state.activeTape;
      e.endTape();
      e.state.activeTape = null;
    }
  }

  /** `tf.variableGrads(f, vars)` over everything recorded so far plus `f`; closes the session. */
  gradients(f: () => tf.Scalar, vars: Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    const e = this.engine;
    const own = Object.prototype.hasOwnProperty.call(e, 'startTape');
    const startTape = e.startTape;
    const tape = this.tape ?? [];
    this.tape = null;
    // tf.variableGrads starts a fresh tape when none is recording: hand it ours instead
    e.startTape = function (this: TapeEngine) {
      this.state.gradientDepth++;
    };
    e.state.activeTape = tape;
    try {
      return tf.variableGrads(f, vars);
    } finally {
      if (own) e.startTape = startTape;
      else delete (e as Partial<TapeEngine>).startTape;
      if (e.state.activeTape === tape) {
        // variableGrads threw before its clean-up
        for (const n of tape) tf.dispose(n.saved ?? []);
        e.state.activeTape = null;
      }
    }
  }

  /** Frees the recorded tape without computing gradients (error paths). */
  close(): void {
    for (const n of this.tape ?? []) tf.dispose(n.saved ?? []);
    this.tape = null;
  }
}

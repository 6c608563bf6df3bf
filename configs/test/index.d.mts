export declare function repoRoot(from?: string): string;
export declare function referenceDir(): string;
export declare function referenceManifest(): any;
export declare function referenceDirOrNull(): string | null;
export declare function referenceCase(id: string): any;
export declare function fixtureSkip(caseId: string | null, files?: string[]): string | false;
export interface ReferenceCheckpoint {
  /** The pickle under checkpoints/. */
  path: string;
  /** Its safetensors twin under models/. */
  twin: string;
  /** The <model> part of the name. */
  model: string;
  /** The epoch of an `epoch_K.pt` name. */
  epoch?: number;
}
export declare function referenceCheckpoints(): {
  dir: string | null;
  bin?: ReferenceCheckpoint;
  fp16?: ReferenceCheckpoint;
  epoch?: ReferenceCheckpoint;
  skip(kind: 'bin' | 'fp16' | 'epoch'): string | false;
};

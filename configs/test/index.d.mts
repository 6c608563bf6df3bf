export declare function repoRoot(from?: string): string;
export declare function referenceDir(): string;
export declare function referenceManifest(): any;

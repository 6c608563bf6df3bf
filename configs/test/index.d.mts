export declare function repoRoot(from?: string): string;
export declare function referenceDir(): string;
export declare function referenceManifest(): any;
export declare function referenceDirOrNull(): string | null;
export declare function referenceCase(id: string): any;
export declare function fixtureSkip(caseId: string | null, files?: string[]): string | false;

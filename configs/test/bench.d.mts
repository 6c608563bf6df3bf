/** The median of `xs` (the mean of the two middle values for an even count); NaN when empty. */
export declare function median(xs: readonly number[]): number;
/**
 * Runs a PyTorch bench script (`python3 -c py THREADS`, printing one JSON line `{torch, rows}`)
 * at `threads` and at 1 thread; when Python or torch is missing, says so and returns what it has.
 */
export declare function runTorchBench<Row>(py: string, threads: number): { rows: Row[]; torchVersion: string | null };

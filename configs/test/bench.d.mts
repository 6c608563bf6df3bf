/** The median of `xs` (the mean of the two middle values for an even count); NaN when empty. */
export declare function median(xs: readonly number[]): number;

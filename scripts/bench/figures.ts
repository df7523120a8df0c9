/** The value at percentile `p` of ascending `sorted` (nearest rank); NaN when there is none. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** `value` rounded to `digits` decimals, as a figure is printed. */
export const round = (value: number, digits = 0): number => Math.round(value * 10 ** digits) / 10 ** digits;

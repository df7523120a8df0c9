import type { RuleEdit } from '@netledger/model';

/**
 * The shortest sequence of single-rule deletes and inserts that turns `from` into `to` (Myers'
 * O(ND) algorithm after trimming the common prefix and suffix), or undefined when it would take
 * more than `maxEdits` edits (the caller then rewrites the chain). Edits are applied in order, each
 * position 0-based in the rules as they stand after the previous edits.
 */
export function ruleEdits(
  from: readonly string[],
  to: readonly string[],
  maxEdits: number,
): RuleEdit[] | undefined {
  let start = 0;
  while (start < from.length && start < to.length && from[start] === to[start]) start++;
  let endFrom = from.length;
  let endTo = to.length;
  while (endFrom > start && endTo > start && from[endFrom - 1] === to[endTo - 1]) {
    endFrom--;
    endTo--;
  }
  const a = from.slice(start, endFrom);
  const b = to.slice(start, endTo);
  const script = myers(a, b, maxEdits);
  if (!script) return undefined;
  const edits: RuleEdit[] = [];
  let position = start;
  for (const step of script) {
    if (step.kind === 'keep') position++;
    else if (step.kind === 'delete') edits.push({ op: 'delete', at: position });
    else edits.push({ op: 'insert', at: position++, rule: step.rule });
  }
  return edits;
}

type Step = { kind: 'keep' } | { kind: 'delete' } | { kind: 'insert'; rule: string };

function myers(a: readonly string[], b: readonly string[], maxD: number): Step[] | undefined {
  const n = a.length;
  const m = b.length;
  if (n + m === 0) return [];
  if (n === 0) return b.map((rule) => ({ kind: 'insert', rule }));
  if (m === 0) return a.map(() => ({ kind: 'delete' }));
  const limit = Math.min(n + m, maxD);
  const offset = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= limit; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)
          ? v[offset + k + 1]!
          : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, offset, a, b, d);
    }
  }
  return undefined;
}

function backtrack(
  trace: Int32Array[],
  offset: number,
  a: readonly string[],
  b: readonly string[],
  dEnd: number,
): Step[] {
  const steps: Step[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      steps.push({ kind: 'keep' });
      x--;
      y--;
    }
    if (x === prevX) steps.push({ kind: 'insert', rule: b[prevY]! });
    else steps.push({ kind: 'delete' });
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    steps.push({ kind: 'keep' });
    x--;
    y--;
  }
  return steps.reverse();
}

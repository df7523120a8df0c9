import { createHash } from 'node:crypto';
import { NetledgerError, type NodeDiff } from '@netledger/model';

/*
 * node-diffs carries two kinds of message: a node's revision (key: the node name; value: its
 * NodeStateChanged event, with the diff's digest), and diff bodies (key: `diff-body/<digest>`),
 * each sent once to every partition that has a node needing it, before those nodes' revisions.
 * A consumer keeps the bodies it passes and resolves its own revisions against them.
 */

const BODY_PREFIX = 'diff-body/';

/** The content address of a diff: sha256 of its JSON. */
export function diffDigest(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}

export const diffBodyKey = (digest: string) => `${BODY_PREFIX}${digest}`;
export const isDiffBodyKey = (key: string | null | undefined) => !!key && key.startsWith(BODY_PREFIX);
/** The digest a diff-body key names (the key must be one: see isDiffBodyKey). */
export const diffBodyKeyDigest = (key: string) => key.slice(BODY_PREFIX.length);

export function encodeDiffBody(digest: string, diffJson: string): string {
  return `{"digest":${JSON.stringify(digest)},"diff":${diffJson}}`;
}

export function decodeDiffBody(value: Buffer | string | null): { digest: string; diff: NodeDiff } {
  try {
    const parsed = JSON.parse(value === null ? 'null' : value.toString()) as {
      digest?: unknown;
      diff?: unknown;
    };
    if (typeof parsed.digest === 'string' && typeof parsed.diff === 'object' && parsed.diff !== null) {
      return { digest: parsed.digest, diff: parsed.diff as NodeDiff };
    }
  } catch {
    // fall through
  }
  throw new NetledgerError('MESSAGE.INVALID', 'not a diff body message');
}

import { readFileSync } from 'node:fs';
import { isDns1123Subdomain } from '@netledger/model';

/**
 * Who a bearer token speaks for: a reader (every query), an admin (and the admin actions), or one
 * node's executor, which may read only its own node's plan and state.
 */
export type Principal =
  { readonly role: 'reader' } | { readonly role: 'admin' } | { readonly role: 'node'; readonly node: string };

/** Tokens no one should be running with: the placeholders of deploy/ and examples. */
const PLACEHOLDER = /change-?me|replace-?me|placeholder|example|^x+$/i;

/**
 * Parses token entries, one per line of a file or comma separated in API_TOKENS:
 * `token:reader`, `token:admin`, `token:node:<node name>`. Lines starting with # are comments.
 * Refuses placeholders and short or repetitive tokens; error messages never hold a token.
 */
export function parseTokens(text: string, source: string): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  const entries = text
    .split(/[\n,]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0 && !e.startsWith('#'));
  entries.forEach((entry, i) => {
    const [token = '', role, node, ...rest] = entry.split(':');
    const where = `${source}: entry ${i + 1}`;
    const principal: Principal | undefined =
      role === 'reader' || role === 'admin'
        ? node === undefined
          ? { role }
          : undefined
        : role === 'node' && node !== undefined && rest.length === 0 && isDns1123Subdomain(node)
          ? { role: 'node', node }
          : undefined;
    if (!principal)
      throw new Error(`${where}: entries are token:reader, token:admin or token:node:<node name>`);
    if (PLACEHOLDER.test(token))
      throw new Error(`${where}: the token is a placeholder; make one (head -c 24 /dev/urandom | xxd -p)`);
    if (token.length < 16 || new Set(token).size < 8 || !/^[\x21-\x7e]+$/.test(token))
      throw new Error(`${where}: a token is at least 16 printable characters, not repetitive`);
    if (tokens.has(token)) throw new Error(`${where}: the token is given twice`);
    tokens.set(token, principal);
  });
  if (tokens.size === 0)
    throw new Error(`${source}: no token (token:reader, token:admin or token:node:<node>)`);
  return tokens;
}

/** The tokens of API_TOKENS_FILE (a mounted Secret) or API_TOKENS; the file wins when both are set. */
export function readTokens(file: string | undefined, inline: string | undefined): Map<string, Principal> {
  if (file) return parseTokens(readFileSync(file, 'utf8'), 'API_TOKENS_FILE');
  if (inline) return parseTokens(inline, 'API_TOKENS');
  throw new Error('api: no tokens: set API_TOKENS_FILE (or API_TOKENS) to token:role entries');
}

import { join } from 'node:path';

const repo = join(__dirname, '..', '..');

/**
 * The built entry point of an app, as it ships: the executor as one bundled file (its image
 * carries no node_modules), the others as tsc's output.
 */
export function appEntry(app: string): string {
  return join(repo, 'apps', app, 'dist', app === 'executor' ? 'netledger-executor.js' : 'main.js');
}

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** True when this process may create network namespaces (root). */
export const canUseNetns = process.getuid?.() === 0;

/** Runs a command in the root namespace with an argument array (never a shell string). */
export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * A network namespace a test made, named with a random suffix, removed by `remove()` (call it in a
 * finally or afterAll so a failing test removes it too).
 */
export class TestNamespace {
  readonly name: string;

  constructor(prefix: string) {
    this.name = `nltest-${prefix}-${randomBytes(3).toString('hex')}`;
    run('ip', ['netns', 'add', this.name]);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], input?: string): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  remove(): void {
    try {
      run('ip', ['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

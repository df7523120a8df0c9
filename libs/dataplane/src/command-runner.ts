import { execFile } from 'node:child_process';

/** Runs a program with an argument array (never a shell string), feeding `input` on stdin. */
export type CommandRunner = (program: string, args: readonly string[], input?: string) => Promise<string>;

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly code: number | string | null,
  ) {
    super(`${command} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/**
 * Runs host commands, inside network namespace `netns` when given (`ip netns exec <netns> ...`):
 * the executor process can stay where PostgreSQL and Kafka are and program another namespace.
 */
export function hostCommands(netns?: string): CommandRunner {
  return (program, args, input) => {
    const argv = netns ? ['netns', 'exec', netns, program, ...args] : [...args];
    const file = netns ? 'ip' : program;
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        argv,
        { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error)
            reject(
              new CommandError(
                `${program} ${args.join(' ')}`.slice(0, 200),
                stderr,
                (error as { code?: number | string }).code ?? null,
              ),
            );
          else resolve(stdout);
        },
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  };
}

/** What the parts of a process log through. */
export interface Logger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

type Level = 'log' | 'warn' | 'error';

/**
 * A logger for processes without NestJS, in the shape Nest's ConsoleLogger gives the other apps
 * (one JSON object per line, or a timestamped text line), so every Netledger log reads alike.
 */
export function createLogger(context: string, options: { readonly json: boolean }): Logger {
  const write = (level: Level, message: string) => {
    const stream = level === 'error' ? process.stderr : process.stdout;
    stream.write(
      options.json
        ? `${JSON.stringify({ level, pid: process.pid, timestamp: Date.now(), message, context })}\n`
        : `[Netledger] ${process.pid} - ${new Date().toISOString()} ${level.toUpperCase().padStart(5)} [${context}] ${message}\n`,
    );
  };
  return {
    log: (message) => write('log', message),
    warn: (message) => write('warn', message),
    error: (message) => write('error', message),
  };
}

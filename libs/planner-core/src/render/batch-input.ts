import { hasControlCharacter, NetledgerError } from '@netledger/model';

/**
 * The input of a batch command (iptables-restore, `ip -batch`, `bridge -batch`): one line per
 * operation. A value holding a control character would end its line and add one of its own (for
 * `ip -batch` any `ip` command, `netns exec` included), so such a line is refused, never written.
 */
export function batchInput(lines: readonly string[]): string {
  for (const line of lines) {
    if (hasControlCharacter(line))
      throw new NetledgerError('RENDER.CONTROL_CHARACTER', 'a host command line holds a control character', {
        details: { line: JSON.stringify(line.slice(0, 200)) },
      });
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

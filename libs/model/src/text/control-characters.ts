// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Whether `text` holds a control character: in a line of a batch command's input (iptables-restore,
 * `ip -batch`), a newline or carriage return would end the line and start one of the sender's.
 */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * Rewrites a rule as Netledger writes it into the form iptables-save prints it back in (iptables
 * 1.8, nf_tables and legacy alike), so that desired and actual rules compare as text. Covers the
 * matches and targets kube-proxy and flannel use; anything else passes through unchanged.
 *
 *  - `[!] -s`, `[!] -d` and `-p` move to the front in that order; host addresses gain /32 (/128 for IPv6);
 *  - comments are always quoted;
 *  - `-m recent` options are printed in the kernel's order with its defaults;
 *  - `-m statistic --probability p` becomes the value the kernel stores (p·2³¹ rounded, %.11f);
 *  - MARK's --or-mark/--xor-mark become --set-xmark; REJECT shows its default --reject-with.
 */
export function canonicalRule(rule: string): string {
  const tokens = tokenize(rule);
  let source = '';
  let destination = '';
  let protocol = '';
  const rest: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const negated = t === '!' && (tokens[i + 1] === '-s' || tokens[i + 1] === '-d');
    const flag = negated ? tokens[i + 1]! : t;
    if (flag === '-s' || flag === '-d') {
      const value = withPrefix(tokens[i + (negated ? 2 : 1)]!);
      const text = `${negated ? '! ' : ''}${flag} ${value}`;
      if (flag === '-s') source = text;
      else destination = text;
      i += negated ? 2 : 1;
    } else if (t === '-p') {
      protocol = `-p ${tokens[++i]!.toLowerCase()}`;
    } else if (t === '--comment') {
      const value = tokens[++i]!;
      rest.push('--comment', value.startsWith('"') ? value : `"${value}"`);
    } else if (t === '-m' && tokens[i + 1] === 'recent') {
      i = recent(tokens, i + 2, rest);
    } else if (t === '--probability') {
      const p = Math.round(Number(tokens[++i]) * 0x80000000) / 0x80000000;
      rest.push('--probability', p.toFixed(11));
    } else if (t === '--or-mark') {
      const m = tokens[++i]!;
      rest.push('--set-xmark', `${m}/${m}`);
    } else if (t === '--xor-mark') {
      rest.push('--set-xmark', `${tokens[++i]!}/0x0`);
    } else {
      rest.push(t);
    }
  }
  if (rest.at(-2) === '-j' && rest.at(-1) === 'REJECT') rest.push('--reject-with', 'icmp-port-unreachable');
  return [source, destination, protocol, ...rest].filter((p) => p !== '').join(' ');
}

/** Consumes `-m recent` options from `start`; pushes them in iptables-save's order. */
function recent(tokens: string[], start: number, out: string[]): number {
  let name = 'DEFAULT';
  let action = '';
  let seconds = '';
  let reap = false;
  let i = start;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '--name') name = tokens[++i]!;
    else if (t === '--set' || t === '--rcheck' || t === '--update' || t === '--remove') action = t;
    else if (t === '--seconds') seconds = tokens[++i]!;
    else if (t === '--reap') reap = true;
    else if (t === '--rsource' || t === '--mask') {
      if (t === '--mask') i++;
    } else break;
  }
  out.push('-m', 'recent', action);
  if (seconds) out.push('--seconds', seconds);
  if (reap) out.push('--reap');
  out.push('--name', name, '--mask', '255.255.255.255', '--rsource');
  return i - 1;
}

function withPrefix(address: string): string {
  return address.includes('/') ? address : `${address}/${address.includes(':') ? 128 : 32}`;
}

/** Splits on spaces, keeping "double quoted" words whole (quotes included). */
export function tokenize(rule: string): string[] {
  return [...rule.matchAll(/"[^"]*"|\S+/g)].map((m) => m[0]);
}

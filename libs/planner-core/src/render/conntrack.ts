import type { ConntrackDeletion } from '@netledger/model';

/** The `conntrack` arguments that delete what a ConntrackDeletion describes. */
export function conntrackArgs(d: ConntrackDeletion): string[] {
  return [
    '-D',
    '-p',
    d.protocol,
    ...(d.origDst ? ['--orig-dst', d.origDst] : []),
    ...(d.origPortDst ? ['--orig-port-dst', String(d.origPortDst)] : []),
    ...(d.replySrc ? ['--reply-src', d.replySrc] : []),
  ];
}

import { NetledgerError } from '../errors/netledger-error';
import {
  nodeState,
  type ChainEntry,
  type FdbEntry,
  type JumpEntry,
  type NeighbourEntry,
  type NodeState,
  type RouteEntry,
  type VxlanDevice,
} from './node-state';

/** A NodeState as plain JSON: entry lists, in the state's order. */
export interface NodeStateJson {
  readonly chains: ChainEntry[];
  readonly jumps: JumpEntry[];
  readonly devices: VxlanDevice[];
  readonly routes: RouteEntry[];
  readonly neighbours: NeighbourEntry[];
  readonly fdb: FdbEntry[];
}

export function encodeNodeState(state: NodeState): NodeStateJson {
  return {
    chains: [...state.chains.values()],
    jumps: [...state.jumps.values()],
    devices: [...state.devices.values()],
    routes: [...state.routes.values()],
    neighbours: [...state.neighbours.values()],
    fdb: [...state.fdb.values()],
  };
}

/** Rebuilds a NodeState from its JSON; throws INPUT.INVALID_NODE_STATE when a part is not a list. */
export function decodeNodeState(json: unknown): NodeState {
  const j = json as Partial<Record<keyof NodeStateJson, unknown>> | null;
  for (const part of ['chains', 'jumps', 'devices', 'routes', 'neighbours', 'fdb'] as const) {
    if (!j || !Array.isArray(j[part]))
      throw new NetledgerError('INPUT.INVALID_NODE_STATE', `node state: ${part} is not a list`);
  }
  const s = j as NodeStateJson;
  return nodeState(s);
}

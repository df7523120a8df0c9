/**
 * `npm run bench`: Netledger's figures as one JSON object; each key names the figure and its unit.
 * Sections run in order; `npm run bench -- planner-core` runs one.
 */
import { benchApi } from './bench/api';
import { benchDiffs } from './bench/diffs';
import { benchEventStore } from './bench/event-store';
import { benchExecutor } from './bench/executor';
import { benchExecutorProcess } from './bench/executor-process';
import { benchPlannerCore } from './bench/planner-core';
import { benchScale } from './bench/scale';
import { benchTrust } from './bench/trust';

const sections: Record<string, () => Record<string, number> | Promise<Record<string, number>>> = {
  'planner-core': benchPlannerCore,
  diffs: benchDiffs,
  trust: benchTrust,
  'event-store': benchEventStore,
  scale: benchScale,
  executor: benchExecutor,
  'executor-process': benchExecutorProcess,
  api: benchApi,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const figures: Record<string, number> = {};
  for (const [name, run] of Object.entries(sections)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    Object.assign(figures, await run());
  }
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

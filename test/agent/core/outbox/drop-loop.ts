// Child process for the drop-count kill test: opens the outbox in argv[2] with tiny bounds and
// the drop counts kept in argv[3], then adds reports and events until it is killed, so reports
// are dropped and events refused all the time. `ready` once open; after each add resolved,
// `=<reports dropped>,<events refused>` as the outbox counts them (not yet told to ICT).
import { Outbox } from '../../../../agent/core/outbox/index.ts';
import { sampleEvent, sampleReport } from '../../../helpers/outbox-fixtures.ts';
import { DROP_LOOP_BOUNDS } from './drop-loop-bounds.ts';

const [dir, dropCountsFile] = process.argv.slice(2);
if (dir === undefined || dropCountsFile === undefined) {
  throw new Error('usage: drop-loop.ts <dir> <drop-counts-file>');
}
const outbox = await Outbox.open({ dir, dropCountsFile, ...DROP_LOOP_BOUNDS });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  await outbox.add(i % 2 === 0 ? sampleEvent() : sampleReport());
  const { reports, events } = outbox.pendingDrops();
  process.stdout.write(`=${reports?.count ?? 0},${events?.count ?? 0}\n`);
}

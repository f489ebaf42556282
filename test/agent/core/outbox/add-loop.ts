// Child process for the SIGKILL suite: opens the outbox in argv[2] and adds items until it
// is killed (or, given a limit, until it added that many: the suite's warm-up run).
// `ready` once open; `+<id>` before each add; `=<id>` only after add resolved.
// On Linux, writes to a pipe are synchronous, so a printed line is in the pipe before the
// next add starts, and a SIGKILL cannot take back a line the parent will read.
import { Outbox } from '../../../../agent/core/outbox/index.ts';
import { sampleEvent, sampleReport } from '../../../helpers/outbox-fixtures.ts';

const [dir, limit = 'Infinity'] = process.argv.slice(2);
if (dir === undefined) {
  throw new Error('usage: add-loop.ts <dir> [limit]');
}
const outbox = await Outbox.open({ dir, maxReports: 1_000_000 });
process.stdout.write('ready\n');
for (let i = 0; i < Number(limit); i++) {
  const item = i % 3 === 0 ? sampleEvent() : sampleReport();
  process.stdout.write(`+${item.id}\n`);
  await outbox.add(item);
  process.stdout.write(`=${item.id}\n`);
}

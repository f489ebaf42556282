// Runs inside the QEMU guest of the power-cut test, bundled with the production outbox. Each
// boot: list what a reset left in the folder, open the outbox (the production open path, which
// removes half-written temp files and sets aside unsound ones), print every item it trusts,
// then add items until the host resets the guest. One line per fact, on stdout (a serial port):
//   begin                      the program started (after a leading newline: see below)
//   leftover <name> <bytes>    a temp file found before open (an add the reset cut short)
//   set-aside <file> <reason>  a file open or a read set aside as unsound
//   item <id> <fingerprint>    an item the outbox trusts, read back in full (schema included)
//   listed <count>
//   +<id> / =<id>              before an add / after it resolved (the acknowledgement)
//   written <count>            the writer stopped on its own (the host reset too late)
// Writes to a tty are synchronous in Node, so `=<id>` leaves only after add() resolved.
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Outbox } from '../../../agent/core/outbox/index.ts';
import { TEMP_PREFIX } from '../../../agent/core/outbox/record.ts';
import { idFromBytes, itemFingerprint, powerCutItem } from './power-cut-items.ts';

const [dir, limitText = '200'] = process.argv.slice(2);
if (dir === undefined) {
  throw new Error('usage: outbox-writer <outbox dir> [items per boot]');
}
const say = (line: string) => process.stdout.write(`${line}\n`);

// A reset can cut the previous boot's last line; this newline ends it, so it cannot run into
// ours (the host accepts only whole, well-formed lines).
process.stdout.write('\n');
say('begin');

const leftovers = await readdir(dir).catch(() => []);
for (const name of leftovers.filter((entry) => entry.startsWith(TEMP_PREFIX))) {
  const size = await stat(join(dir, name)).then(
    (info) => info.size,
    () => -1,
  );
  say(`leftover ${name} ${size}`);
}
const outbox = await Outbox.open({ dir, maxReports: 1_000_000 });
const { reports, events } = outbox.depth();
const items = await outbox.peekBatch(reports, events);
for (const file of outbox.corruptFiles()) {
  say(`set-aside ${file.file} ${file.reason}`);
}
for (const item of items) {
  say(`item ${item.id} ${itemFingerprint(item)}`);
}
say(`listed ${items.length}`);

const limit = Number(limitText);
for (let i = 0; i < limit; i++) {
  const item = powerCutItem(idFromBytes(randomBytes(16)));
  say(`+${item.id}`);
  await outbox.add(item);
  say(`=${item.id}`);
}
say(`written ${limit}`);
// Stay up: the host resets the guest; returning would power it off.
setInterval(() => undefined, 60_000);

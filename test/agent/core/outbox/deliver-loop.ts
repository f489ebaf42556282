// Child process for the SIGKILL suite: opens the outbox in argv[2], adds a few events
// (`+<id>` before, `=<id>` after add resolved) and delivers to the fake server at argv[3]
// with a short back-off until the outbox is empty, then prints `drained` and exits.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Outbox,
  deliver,
  parseRetryAfter,
  type OutboxItem,
  type SendOutcome,
} from '../../../../agent/core/outbox/index.ts';
import { sampleEvent } from '../../../helpers/outbox-fixtures.ts';

const [dir, url] = process.argv.slice(2);
if (dir === undefined || url === undefined) {
  throw new Error('usage: deliver-loop.ts <dir> <url>');
}

async function send(batch: OutboxItem[]): Promise<SendOutcome> {
  try {
    const response = await fetch(url ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: batch }),
    });
    if (response.status === 429 || response.status === 503) {
      const ms = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      return ms === undefined
        ? { kind: 'failed', error: response.status }
        : { kind: 'retry-after', ms };
    }
    if (!response.ok) {
      return { kind: 'failed', error: response.status };
    }
    const body = (await response.json()) as { accepted: string[] };
    return { kind: 'accepted', ids: body.accepted };
  } catch (error) {
    return { kind: 'failed', error };
  }
}

const outbox = await Outbox.open({ dir, maxReports: 100_000, backoff: { baseMs: 5, capMs: 40 } });
process.stdout.write('ready\n');
for (let round = 0; ; round++) {
  if (round < 3) {
    const item = sampleEvent();
    process.stdout.write(`+${item.id}\n`);
    await outbox.add(item);
    process.stdout.write(`=${item.id}\n`);
  }
  const result = await deliver(outbox, send, { maxReports: 5, maxEvents: 10 });
  const { reports, events } = outbox.depth();
  if (result.status === 'drained' && reports + events === 0 && round >= 3) {
    process.stdout.write('drained\n');
    break;
  }
  await sleep(Math.max(0, (outbox.nextAttemptAt() ?? 0) - Date.now()));
}

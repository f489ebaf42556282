// A transaction is one connection: statements started together inside it (the compliance
// summary starts three at once inside the snapshot job's transaction) must take turns, each
// getting its own answer, and never overlap on the client, which pg deprecates and pg 9 refuses.
import { expect, it } from 'vitest';
import { describeEachEngine } from '../../helpers/databases.ts';

describeEachEngine('transactions', (engine) => {
  it('run statements started together one at a time, each with its own answer', async () => {
    const db = await engine.open();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const answers = await db.transaction((tx) =>
        Promise.all(
          Array.from({ length: 20 }, (_, n) => tx.query<{ n: number }>('select $1::int as n', [n])),
        ),
      );
      expect(answers.map((rows) => rows[0]?.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      // A process warning is emitted on the next tick: let it arrive.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await db.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { HashGate } from '../../../server/auth/hash-gate.ts';

/** Work the test finishes by hand, so nothing depends on timing. */
function heldWork() {
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return { work: () => done, finish };
}

describe('HashGate', () => {
  it('runs at most `concurrency` at once, queues up to `queueLimit`, and turns the rest away', async () => {
    const gate = new HashGate(2, 1);
    let running = 0;
    let peak = 0;
    const held = [heldWork(), heldWork(), heldWork()];
    const places = held.map(() => gate.tryEnter());
    expect(places.every((p) => p !== null)).toBe(true);
    expect(gate.tryEnter()).toBeNull();
    const runs = places.map((_, i) =>
      place(places, i).run(async () => {
        running++;
        peak = Math.max(peak, running);
        await held[i]?.work();
        running--;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(running).toBe(2);
    held[0]?.finish();
    await runs[0];
    place(places, 0).leave();
    await new Promise((resolve) => setImmediate(resolve));
    expect(running).toBe(2); // the queued one took the freed slot
    const late = gate.tryEnter(); // a place freed up
    expect(late).not.toBeNull();
    held[1]?.finish();
    held[2]?.finish();
    await Promise.all(runs);
    expect(peak).toBe(2);
  });

  it('gives a place back once however often it is left', () => {
    const gate = new HashGate(1, 0);
    const first = gate.tryEnter();
    first?.leave();
    first?.leave();
    const second = gate.tryEnter();
    expect(second).not.toBeNull();
    expect(gate.tryEnter()).toBeNull();
  });
});

function place<T>(places: (T | null)[], i: number): T {
  const found = places[i];
  if (found === undefined || found === null) {
    throw new Error('no place');
  }
  return found;
}

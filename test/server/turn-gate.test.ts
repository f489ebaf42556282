// The turn gate: a few callers through per turn of the event loop, the rest in order in the
// turns after. Once with turns moved by hand, once on Node's real loop (setImmediate).
import { describe, expect, it } from 'vitest';
import { TurnGate } from '../../server/turn-gate.ts';

/** Turns that end only when the test says so. */
function manualTurns() {
  let endTurn: (() => void) | null = null;
  return {
    nextTurn: () =>
      new Promise<void>((resolve) => {
        endTurn = resolve;
      }),
    async end(): Promise<void> {
      const end = endTurn;
      endTurn = null;
      end?.();
      for (let i = 0; i < 10; i++) {
        await Promise.resolve();
      }
    },
  };
}

describe('TurnGate', () => {
  it('lets perTurn callers through each turn, first come first served', async () => {
    const turns = manualTurns();
    const gate = new TurnGate(3, turns.nextTurn);
    const through: number[] = [];
    for (let n = 0; n < 8; n++) {
      void gate.pass().then(() => through.push(n));
    }
    await Promise.resolve();
    expect(through).toEqual([0, 1, 2]);
    expect(gate.waiting).toBe(5);
    await turns.end();
    expect(through).toEqual([0, 1, 2, 3, 4, 5]);
    await turns.end();
    expect(through).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gate.waiting).toBe(0);
  });

  it('puts a newcomer behind those already waiting, even in a turn with room', async () => {
    const turns = manualTurns();
    const gate = new TurnGate(2, turns.nextTurn);
    const through: string[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      void gate.pass().then(() => through.push(name));
    }
    await turns.end(); // c and d go through; e still waits
    void gate.pass().then(() => through.push('late'));
    await turns.end();
    expect(through).toEqual(['a', 'b', 'c', 'd', 'e', 'late']);
  });

  it('starts each quiet turn afresh', async () => {
    const turns = manualTurns();
    const gate = new TurnGate(1, turns.nextTurn);
    await gate.pass();
    await turns.end();
    await turns.end();
    // A new turn with nobody waiting: the next caller goes through at once.
    let through = false;
    void gate.pass().then(() => (through = true));
    await Promise.resolve();
    expect(through).toBe(true);
  });

  it('refuses a gate nobody could pass', () => {
    const turns = manualTurns();
    expect(() => new TurnGate(0, turns.nextTurn)).toThrow(RangeError);
    expect(() => new TurnGate(1.5, turns.nextTurn)).toThrow(RangeError);
  });

  it('on the real event loop, lets at most perTurn through before the loop turns', async () => {
    const gate = new TurnGate(4, () => new Promise<void>((resolve) => setImmediate(resolve)));
    const perTurn: number[] = [];
    let thisTurn = 0;
    let turns = 0;
    // Scheduled before the gate's own first setImmediate, so it runs first in every turn.
    const onTurn = () => {
      perTurn.push(thisTurn);
      thisTurn = 0;
      turns++;
      if (gate.waiting > 0 || turns < 2) {
        setImmediate(onTurn);
      }
    };
    setImmediate(onTurn);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        gate.pass().then(() => {
          thisTurn++;
        }),
      ),
    );
    perTurn.push(thisTurn);
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(4);
  });
});

// The duty around an OS hold, for what the Windows and macOS holds add over Linux: a leftover
// hold cleared at start before any new hold, and a release the OS refuses kept on record so the
// next look at the console tries again (a Windows Firewall rule does not vanish on its own).
// The OS holds themselves are tested beside their code; here a stand-in that can refuse.
import { describe, expect, it } from 'vitest';
import type { HoldTarget, NetworkHold } from '../../../agent/core/network-hold/index.ts';
import { NetworkHoldDuty } from '../../../agent/service/network-hold-duty.ts';

class RefusingHold implements NetworkHold {
  readonly calls: string[] = [];
  refuseRelease = false;
  refuseClear = false;
  #held = false;
  hold(allowed: HoldTarget[]): Promise<void> {
    this.calls.push(`hold ${allowed.map((t) => `${t.address}:${String(t.port)}`).join(',')}`);
    this.#held = true;
    return Promise.resolve();
  }
  release(): Promise<void> {
    this.calls.push('release');
    if (this.refuseRelease) {
      return Promise.reject(new Error('could not release the network hold: 3 rule(s) remain'));
    }
    this.#held = false;
    return Promise.resolve();
  }
  held(): boolean {
    return this.#held;
  }
  clearLeftover(): Promise<void> {
    this.calls.push('clear');
    return this.refuseClear
      ? Promise.reject(new Error('could not release the network hold: pfctl: Permission denied'))
      : Promise.resolve();
  }
}

function duty(hold: RefusingHold) {
  const errors: string[] = [];
  const log = {
    info: () => undefined,
    warn: () => undefined,
    error: (details: Record<string, unknown>, message: string) => {
      errors.push(`${message}: ${String(details.error)}`);
    },
  };
  return {
    errors,
    duty: new NetworkHoldDuty({
      hold,
      serverUrl: () => 'https://10.0.0.5:8443',
      allow: () => [],
      resolve: () => Promise.resolve([]),
      log,
    }),
  };
}

describe('NetworkHoldDuty', () => {
  it('clears a leftover hold before the first hold, in order, even when not awaited', async () => {
    const hold = new RefusingHold();
    const { duty: d } = duty(hold);
    void d.start();
    expect(await d.hold('pupil1')).toBeNull();
    expect(hold.calls).toEqual(['clear', 'hold 10.0.0.5:8443']);
  });

  it('a leftover it cannot clear is logged as an error; start never rejects', async () => {
    const hold = new RefusingHold();
    hold.refuseClear = true;
    const { duty: d, errors } = duty(hold);
    await expect(d.start()).resolves.toBeUndefined();
    expect(errors).toEqual([
      'a network hold left by an earlier run could not be cleared: could not release the network hold: pfctl: Permission denied',
    ]);
  });

  it('a refused release keeps the hold on record so it is tried again', async () => {
    const hold = new RefusingHold();
    const { duty: d, errors } = duty(hold);
    await d.hold('pupil1');
    hold.refuseRelease = true;
    await expect(d.release()).rejects.toThrow(/3 rule\(s\) remain/);
    expect(d.heldFor()).toBe('pupil1');
    // Stopping never rejects: it says what it could not do.
    await expect(d.stop()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    hold.refuseRelease = false;
    await d.release();
    expect(d.heldFor()).toBeNull();
  });
});

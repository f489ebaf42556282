// The tray registry on a manual clock: who has a tray comes from the proven peer and the
// console-user source, and a console session without one raises tamper.tray-missing once per
// episode, after the policy's minutes (or the default when the policy does not say).
import { describe, expect, it } from 'vitest';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { TrayRegistry } from '../../../agent/service/tray-registry.ts';
import {
  AgentEventSchema,
  validate,
  type AgentEvent,
  type IpcPeer,
  type Policy,
} from '../../../shared/index.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

const peer = (user: string): IpcPeer => ({ id: '1001', user, privileged: false, console: true });

function registry(policy: Policy, start = '2026-12-05T08:00:00Z') {
  const clock = new ManualClock(start);
  const events: AgentEvent[] = [];
  let atConsole: ConsoleUser | null = { name: 'pupil1', groups: [] };
  const trays = new TrayRegistry({
    consoleUser: { current: () => Promise.resolve(atConsole) },
    policy: { current: () => policy },
    recordEvent: (event) => {
      events.push(event);
      return Promise.resolve();
    },
    now: clock.now,
  });
  /** Looks once a minute for `minutes`, as the service's poll does. */
  const minutes = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await trays.check();
      await clock.advance(60_000);
    }
    await trays.check();
  };
  return {
    trays,
    events,
    clock,
    minutes,
    seat: (name: string | null) => {
      atConsole = name === null ? null : { name, groups: [] };
    },
  };
}

describe('TrayRegistry', () => {
  it('raises tamper.tray-missing once after the default 10 minutes without a tray', async () => {
    const policy = await readDefaultPolicy();
    expect(policy.tray).toBeUndefined();
    const { events, minutes } = registry(policy);
    await minutes(9);
    expect(events).toEqual([]);
    await minutes(1);
    await minutes(30);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['tamper.tray-missing', { user: 'pupil1', since: '2026-12-05T08:00:00.000Z', minutes: 10 }],
    ]);
    expect(validate(AgentEventSchema, events[0]).ok).toBe(true);
  });

  it("follows the policy's minutes; a tray that comes back ends the episode, a new one is raised again", async () => {
    const policy = { ...(await readDefaultPolicy()), tray: { missingAfterMinutes: 3 } };
    const { trays, events, minutes } = registry(policy);
    const hello = trays.connected(peer('pupil1'));
    await minutes(20);
    expect(events).toEqual([]);
    expect(trays.list()).toEqual([{ user: 'pupil1', since: '2026-12-05T08:00:00.000Z' }]);
    hello.release();
    expect(trays.list()).toEqual([]);
    await minutes(3);
    expect(events).toHaveLength(1);
    const again = trays.connected(peer('pupil1'));
    await minutes(5);
    again.release();
    await minutes(3);
    expect(events.map((e) => e.type)).toEqual(['tamper.tray-missing', 'tamper.tray-missing']);
  });

  it("does not count another user's tray, and raises nothing while nobody is at the console", async () => {
    const policy = { ...(await readDefaultPolicy()), tray: { missingAfterMinutes: 2 } };
    const { trays, events, minutes, seat } = registry(policy);
    seat(null);
    await minutes(30);
    expect(events).toEqual([]);
    seat('pupil1');
    trays.connected(peer('teacher1'));
    await minutes(2);
    expect(events.map((e) => e.data)).toEqual([
      { user: 'pupil1', since: '2026-12-05T08:30:00.000Z', minutes: 2 },
    ]);
    // A different user at the console is a new session: its own episode.
    seat('teacher2');
    await minutes(2);
    expect(events.map((e) => (e.data as { user: string }).user)).toEqual(['pupil1', 'teacher2']);
  });

  it('says whether a user has a tray connected, ignoring case, until it closes', async () => {
    const { trays } = registry(await readDefaultPolicy());
    expect(trays.connectedFor('pupil1')).toBe(false);
    const first = trays.connected(peer('Pupil1'));
    const second = trays.connected(peer('pupil1'));
    expect(trays.connectedFor('PUPIL1')).toBe(true);
    expect(trays.connectedFor('pupil2')).toBe(false);
    first.release();
    expect(trays.connectedFor('pupil1')).toBe(true);
    second.release();
    expect(trays.connectedFor('pupil1')).toBe(false);
  });
});

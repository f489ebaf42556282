// A due AUP that no tray shows (the pupil killed it) gets the role's decline action from the
// service after the tray allowance, and so does one a tray was asked to show and nobody answered
// within the answer deadline (a program posing as the tray that shows nothing) — on a fake
// clock, with the session actions observed at the command they run (the real logind actions
// over a runner that records each command) and trays recorded by the real tray registry.
import { chmod, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxSessionActions } from '../../../agent/core/aup/decline/linux.ts';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { Outbox } from '../../../agent/core/outbox/index.ts';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import type { Runner } from '../../../agent/core/runner.ts';
import { AupNoTrayEpisodeFile } from '../../../agent/service/aup-no-tray-episode.ts';
import { AupRecord } from '../../../agent/service/aup-record.ts';
import { type AupNetworkHold, AupSessions } from '../../../agent/service/aup-sessions.ts';
import { TrayRegistry } from '../../../agent/service/tray-registry.ts';
import {
  AgentEventSchema,
  type AgentEvent,
  type IpcPeer,
  type Policy,
} from '../../../shared/index.ts';
import { Value } from 'typebox/value';
import { recordingNetworkHold } from '../../helpers/aup.ts';

const example = parsePolicyText(
  await readFile(
    new URL('../../../agent/core/policy/example-policy.yaml', import.meta.url),
    'utf8',
  ),
  'example-policy.yaml',
);
const pupil: ConsoleUser = { name: '24jsmith', groups: [] };
const staff: ConsoleUser = { name: 'a.teacher', groups: ['staff'] };
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** loginctl as logind answers for `user` on session 3 of seat0; each command is recorded. */
function loginctl(state: { user: ConsoleUser | null }, commands: string[]): Runner {
  return (command, args) => {
    commands.push([command, ...args].join(' '));
    const ok = (stdout: string) => Promise.resolve({ stdout, stderr: '', exitCode: 0 });
    if (args[0] === 'show-seat') {
      return ok(state.user === null ? '\n' : '3\n');
    }
    if (args[0] === 'show-session') {
      return ok(`Name=${state.user?.name ?? ''}\nClass=user\nState=active\n`);
    }
    return ok('');
  };
}

async function setup(
  options: {
    user?: ConsoleUser;
    policy?: Policy;
    tray?: boolean;
    networkHold?: AupNetworkHold;
    recordEvent?: (event: AgentEvent) => Promise<void>;
    withoutTrayCheck?: boolean;
    /** Writes the state folder before the service first starts (a file left, or planted). */
    prepare?: (dir: string, start: number) => Promise<void>;
  } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-aup-notray-'));
  dirs.push(dir);
  const logs: string[] = [];
  const events: AgentEvent[] = [];
  const commands: string[] = [];
  const state = {
    user: (options.user ?? pupil) as ConsoleUser | null,
    tray: options.tray ?? false,
  };
  const start = new Date(2026, 9, 5, 9).getTime();
  let now = start;
  await options.prepare?.(dir, start);
  // Trays as the IPC server records them on `tray:hello` (a proven console-user connection).
  const trays = new TrayRegistry({
    consoleUser: { current: () => Promise.resolve(state.user) },
    policy: { current: () => options.policy ?? example },
    recordEvent: () => Promise.resolve(),
    now: () => new Date(now),
  });
  /** The service's AUP duty as it starts: from the state folder, like run-service.ts. */
  const open = async () => {
    const episodes = await AupNoTrayEpisodeFile.open(dir, { now: () => new Date(now) });
    logs.push(...episodes.problems());
    return new AupSessions({
      consoleUser: { current: () => Promise.resolve(state.user) },
      policy: { current: () => options.policy ?? example, onChange: () => () => undefined },
      record: await AupRecord.open(dir),
      noTrayEpisode: episodes,
      lookup: () => Promise.resolve(null),
      actions: linuxSessionActions(loginctl(state, commands)),
      recordEvent:
        options.recordEvent ??
        ((event) => {
          events.push(event);
          return Promise.resolve();
        }),
      push: () => undefined,
      log: {
        warn: (_, message) => logs.push(message),
        info: (_, message) => logs.push(message),
      },
      now: () => new Date(now),
      ...(options.withoutTrayCheck === true
        ? {}
        : { trayConnected: (user: string) => state.tray || trays.connectedFor(user) }),
      ...(options.networkHold === undefined ? {} : { networkHold: options.networkHold }),
    });
  };
  let sessions = await open();
  return {
    get sessions() {
      return sessions;
    },
    events,
    state,
    dir,
    logs,
    /**
     * What the IPC server does when the console user's connection says `tray:hello` (a real
     * tray, or a program that only says hello); `release` is that connection closing.
     */
    hello(): { release(): void } {
      const user = state.user?.name ?? 'nobody';
      const peer: IpcPeer = { id: '1001', user, privileged: false, console: true };
      return trays.connected(peer);
    },
    /** Stops the duty and starts a new one on the same state folder (a crash, a reboot). */
    async restart() {
      sessions.stop();
      sessions = await open();
    },
    /** The session actions run (the loginctl verb that acts, not the look-ups before it). */
    acted: () => commands.filter((c) => /terminate-session|lock-session/.test(c)),
    /** Looks at the console at `minutes` after the first look. */
    async at(minutes: number) {
      now = start + minutes * 60_000;
      await sessions.check();
    },
  };
}

/** Signs everything due, as the tray would. */
async function signAll(sessions: AupSessions): Promise<void> {
  for (;;) {
    const document = (await sessions.pending({ uid: null })).documents[0];
    if (document === undefined) {
      return;
    }
    await sessions.sign(
      {
        id: 1,
        channel: 'aup:sign',
        documentId: document.id,
        textSha256: document.textSha256,
        acknowledged: document.statements.map((_, i) => i),
        fullName: 'A Name',
        tutorGroup: document.askTutorGroup ? '3B' : null,
        parentCarer: document.askParentCarer ? 'Sam Smith' : null,
      },
      { uid: null },
    );
  }
}

const holdNetwork = { ...example, aup: { ...example.aup, onDecline: 'hold-network' as const } };
const recordOnly = { ...example, aup: { ...example.aup, onDecline: 'record-only' as const } };
const threeMinutes = { ...example, tray: { missingAfterMinutes: 3 } };
const answerWithin = (minutes: number): Policy => ({
  ...example,
  aup: { ...example.aup, answerWithinMinutes: minutes },
});
const nobodyAsked = {
  ...example,
  aup: { ...example.aup, rules: [], defaultRole: 'none' as const },
};

interface Case {
  name: string;
  user?: ConsoleUser;
  policy?: Policy;
  tray?: boolean;
  withoutTrayCheck?: boolean;
  /** Minutes after the first look at which the console is looked at again. */
  looks: number[];
  acted: string[];
  /** The `action` of each no-tray event. */
  recorded: string[];
}

const cases: Case[] = [
  {
    name: 'a pupil with no tray is signed out once the allowance has passed, not before',
    looks: [5, 9.9, 10, 10.5],
    acted: ['loginctl terminate-session 3'],
    recorded: ['sign-out'],
  },
  {
    name: 'staff with no tray are locked, and locked again each minute it goes on; one event',
    user: staff,
    looks: [10, 10.5, 11, 12],
    acted: ['loginctl lock-session 3', 'loginctl lock-session 3', 'loginctl lock-session 3'],
    // One event per document outstanding (the staff AUP and the device contract), one lock.
    recorded: ['lock', 'lock'],
  },
  {
    name: 'record-only is recorded once and nothing is done to the session',
    policy: recordOnly,
    looks: [10, 11, 30],
    acted: [],
    recorded: ['record-only'],
  },
  {
    name: 'the allowance comes from the policy’s tray.missingAfterMinutes',
    policy: threeMinutes,
    looks: [2.9, 3],
    acted: ['loginctl terminate-session 3'],
    recorded: ['sign-out'],
  },
  {
    name: 'a tray connected (showing it) holds the no-tray decline off',
    tray: true,
    looks: [10, 15, 19.9],
    acted: [],
    recorded: [],
  },
  {
    name: 'an AUP that is not due (nobody is asked) never fires',
    policy: nobodyAsked,
    looks: [10, 60],
    acted: [],
    recorded: [],
  },
  {
    name: 'a clock set back does not count as time passed',
    looks: [-120, -60],
    acted: [],
    recorded: [],
  },
  {
    name: 'a service not told about trays waits for the tray as before',
    withoutTrayCheck: true,
    looks: [10, 60],
    acted: [],
    recorded: [],
  },
];

describe('an AUP due with no tray to show it', () => {
  it.each(cases)('$name', async (c) => {
    const t = await setup({
      ...(c.user === undefined ? {} : { user: c.user }),
      ...(c.policy === undefined ? {} : { policy: c.policy }),
      ...(c.tray === undefined ? {} : { tray: c.tray }),
      ...(c.withoutTrayCheck === undefined ? {} : { withoutTrayCheck: c.withoutTrayCheck }),
    });
    await t.at(0);
    for (const minutes of c.looks) {
      await t.at(minutes);
    }
    expect(t.acted()).toEqual(c.acted);
    expect(t.events.map((e) => (e.type === 'aup.declined' ? e.data.action : e.type))).toEqual(
      c.recorded,
    );
    for (const event of t.events) {
      expect(event).toMatchObject({
        type: 'aup.declined',
        data: { user: t.state.user?.name, reason: 'no-tray', actionError: null },
      });
    }
  });

  it('never fires for a user who has signed', async () => {
    const t = await setup({ user: staff });
    await signAll(t.sessions);
    await t.at(0);
    await t.at(10);
    await t.at(60);
    expect(t.acted()).toEqual([]);
    expect(t.events.map((e) => e.type)).toEqual(['aup.accepted', 'aup.accepted']);
  });

  it('stops locking once the tray is back, and once the user has signed', async () => {
    // The longest answer deadline, so only the tray allowance is at work here.
    const t = await setup({ user: staff, policy: answerWithin(240) });
    await t.at(0);
    await t.at(10);
    expect(t.acted()).toHaveLength(1);
    // The tray comes back: it shows the AUP, so the service leaves the session alone.
    t.state.tray = true;
    await t.at(11);
    await t.at(30);
    expect(t.acted()).toHaveLength(1);
    // Killed again: a fresh allowance, then locked again.
    t.state.tray = false;
    await t.at(31);
    await t.at(40);
    expect(t.acted()).toHaveLength(1);
    await t.at(41);
    expect(t.acted()).toHaveLength(2);
    // They restart the tray and sign; with the tray gone again afterwards, nothing is due.
    await signAll(t.sessions);
    await t.at(42);
    await t.at(100);
    expect(t.acted()).toHaveLength(2);
    expect(t.events.map((e) => [e.type, e.type === 'aup.declined' ? e.data.reason : null])).toEqual(
      [
        ['aup.declined', 'no-tray'],
        ['aup.declined', 'no-tray'],
        ['aup.declined', 'no-tray'],
        ['aup.declined', 'no-tray'],
        ['aup.accepted', null],
        ['aup.accepted', null],
      ],
    );
  });

  it('holds the network with no tray, and opens it the moment the user signs', async () => {
    const hold = recordingNetworkHold();
    const t = await setup({ policy: holdNetwork, networkHold: hold });
    await t.at(0);
    await t.at(10);
    await t.at(12);
    expect(hold.holds).toEqual(['24jsmith']);
    expect(t.events[0]).toMatchObject({ data: { action: 'hold-network', reason: 'no-tray' } });
    await signAll(t.sessions);
    expect(hold.heldFor()).toBe(null);
    await t.at(20);
    expect(hold.holds).toEqual(['24jsmith']);
  });

  it('a signed-out pupil’s next session gets the allowance afresh', async () => {
    const t = await setup();
    await t.at(0);
    await t.at(10);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    // Back at the console before a look saw the login screen: a tray starting slowly is not
    // signed out at once.
    await t.at(11);
    await t.at(19);
    expect(t.acted()).toHaveLength(1);
    await t.at(21);
    expect(t.acted()).toHaveLength(2);
  });

  it('a restart mid-allowance continues it: the action runs when the original allowance ends', async () => {
    const t = await setup();
    await t.at(0);
    await t.at(6);
    await t.restart();
    await t.at(6.5);
    await t.at(9.9);
    expect(t.acted()).toEqual([]);
    await t.at(10);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(t.events.map((e) => (e.type === 'aup.declined' ? e.data.reason : e.type))).toEqual([
      'no-tray',
    ]);
    expect(t.logs).toContain('AUP no-tray episode continues after the restart');
    // Signed out: the episode is over, on disk too.
    expect(await readdir(t.dir)).not.toContain('aup-no-tray.json');
  });

  it('a restart after a lock locks again a minute on, without recording the decline twice', async () => {
    const t = await setup({ user: staff });
    await t.at(0);
    await t.at(10);
    await t.restart();
    await t.at(10.5);
    expect(t.acted()).toHaveLength(1);
    await t.at(11);
    expect(t.acted()).toHaveLength(2);
    // One event per outstanding document, from before the restart only.
    expect(t.events).toHaveLength(2);
  });

  it('a restart with another user at the console gives them their own allowance', async () => {
    const t = await setup();
    await t.at(0);
    await t.at(8);
    await t.restart();
    t.state.user = { name: '24other', groups: [] };
    await t.at(9);
    await t.at(17);
    expect(t.acted()).toEqual([]);
    await t.at(19);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
  });

  const iso = (start: number, minutes: number) => new Date(start + minutes * 60_000).toISOString();
  const episode = (start: number, since: number) =>
    JSON.stringify({ user: '24jsmith', since: iso(start, since), appliedAt: null });
  const refused: {
    name: string;
    prepare: (dir: string, start: number) => Promise<void>;
    /** Minute of the first action: 10 is a fresh allowance from the first look. */
    firstAction: number;
    log: RegExp;
  }[] = [
    {
      name: 'not JSON',
      prepare: (dir) => writeFile(join(dir, 'aup-no-tray.json'), '{"user": "24js', { mode: 0o600 }),
      firstAction: 10,
      log: /refused \(not JSON\).*moved aside/,
    },
    {
      name: 'the wrong shape (markup for a user, a number for a time)',
      prepare: (dir) =>
        writeFile(
          join(dir, 'aup-no-tray.json'),
          JSON.stringify({ user: '<b>x</b>', since: 0, appliedAt: null, extra: 1 }),
          { mode: 0o600 },
        ),
      firstAction: 10,
      log: /refused .*moved aside/,
    },
    {
      name: 'writable by others (planted to hold the allowance off)',
      prepare: async (dir, start) => {
        const path = join(dir, 'aup-no-tray.json');
        await writeFile(path, episode(start, 0));
        await chmod(path, 0o666);
      },
      firstAction: 10,
      log: /refused .*moved aside/,
    },
    {
      name: 'a link to another file',
      prepare: async (dir, start) => {
        await writeFile(join(dir, 'elsewhere.json'), episode(start, 0), { mode: 0o600 });
        await symlink(join(dir, 'elsewhere.json'), join(dir, 'aup-no-tray.json'));
      },
      firstAction: 10,
      log: /refused .*moved aside/,
    },
    {
      name: 'an episode that begins in the future (it would hold the action off for ever)',
      prepare: (dir, start) =>
        writeFile(join(dir, 'aup-no-tray.json'), episode(start, 60 * 24 * 365 * 100), {
          mode: 0o600,
        }),
      firstAction: 10,
      log: /starts in the future; the allowance starts fresh/,
    },
    {
      name: 'an episode years old: a minute’s grace, never the action on the first look',
      prepare: (dir, start) =>
        writeFile(join(dir, 'aup-no-tray.json'), episode(start, -60 * 24 * 365 * 5), {
          mode: 0o600,
        }),
      firstAction: 1,
      log: /continues after the restart/,
    },
  ];

  it.each(refused)('a no-tray file that is $name never crashes nor declines at once', async (c) => {
    const t = await setup({ prepare: c.prepare });
    await t.at(0);
    expect(t.acted()).toEqual([]);
    await t.at(c.firstAction - 0.1);
    expect(t.acted()).toEqual([]);
    await t.at(c.firstAction);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(t.logs.some((line) => c.log.test(line))).toBe(true);
  });

  it('the no-tray decline goes through the outbox, valid against the event schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-aup-notray-outbox-'));
    dirs.push(dir);
    const outbox = await Outbox.open({ dir, maxReports: 10 });
    const t = await setup({
      recordEvent: async (event) => {
        await outbox.add({ kind: 'event', id: event.id, payload: event });
      },
    });
    await t.at(0);
    await t.at(10);
    await outbox.close();
    // Read back after a restart, as delivery would: the event is queued once, intact.
    const reopened = await Outbox.open({ dir, maxReports: 10 });
    const batch = await reopened.peekBatch();
    await reopened.close();
    expect(batch).toHaveLength(1);
    const payload = batch[0]?.payload;
    expect(Value.Check(AgentEventSchema, payload)).toBe(true);
    expect(payload).toMatchObject({
      type: 'aup.declined',
      data: { user: '24jsmith', role: 'pupil', action: 'sign-out', reason: 'no-tray' },
    });
  });
});

/** Declines the first document due, as the window's Decline button would. */
async function declineFirst(sessions: AupSessions): Promise<void> {
  const document = (await sessions.pending({ uid: null })).documents[0];
  if (document === undefined) {
    throw new Error('nothing is due');
  }
  await sessions.decline(
    { id: 2, channel: 'aup:decline', documentId: document.id, textSha256: document.textSha256 },
    { uid: null },
  );
}

/** The reason of each aup.declined event, and the type of any other. */
const reasons = (events: AgentEvent[]) =>
  events.map((e) => (e.type === 'aup.declined' ? `${e.data.reason}:${e.data.action}` : e.type));

describe('an AUP window a tray was asked to show and nobody answered', () => {
  it('a real tray whose user signs in time: no action, whenever the deadline would have been', async () => {
    const t = await setup();
    t.hello();
    await t.at(0);
    await t.at(19);
    await signAll(t.sessions);
    await t.at(20);
    await t.at(60);
    await t.at(600);
    expect(t.acted()).toEqual([]);
    expect(reasons(t.events)).toEqual(['aup.accepted']);
  });

  it('a user who declines in the window gets the action once, not a second one at the deadline', async () => {
    const t = await setup({ user: staff });
    t.hello();
    await t.at(0);
    await t.at(5);
    await declineFirst(t.sessions);
    await t.at(20);
    await t.at(25);
    await t.at(120);
    expect(t.acted()).toEqual(['loginctl lock-session 3']);
    expect(reasons(t.events)).toEqual(['declined:lock']);
  });

  it('a fake tray that says hello and never answers: signed out at the deadline, not before', async () => {
    const t = await setup();
    t.hello();
    await t.at(0);
    await t.at(10);
    await t.at(19.9);
    expect(t.acted()).toEqual([]);
    await t.at(20);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(reasons(t.events)).toEqual(['no-answer:sign-out']);
    expect(Value.Check(AgentEventSchema, t.events[0])).toBe(true);
    expect(t.events[0]).toMatchObject({
      type: 'aup.declined',
      data: { user: '24jsmith', role: 'pupil', actionError: null, reason: 'no-answer' },
    });
    expect(t.logs).toContain(
      'AUP window unanswered within the deadline: the decline action applied',
    );
  });

  it('a signed-out pupil is asked again in their next session, with the deadline afresh', async () => {
    const t = await setup();
    t.hello();
    await t.at(0);
    await t.at(20);
    expect(t.acted()).toHaveLength(1);
    // Back at the console, the fake tray saying hello again: another whole deadline.
    await t.at(21);
    await t.at(40.9);
    expect(t.acted()).toHaveLength(1);
    await t.at(41);
    expect(t.acted()).toHaveLength(2);
    expect(reasons(t.events)).toEqual(['no-answer:sign-out', 'no-answer:sign-out']);
  });

  it('staff are locked once at the deadline, one event per document, as a decline in the window', async () => {
    const t = await setup({ user: staff });
    t.hello();
    await t.at(0);
    await t.at(20);
    await t.at(21);
    await t.at(60);
    expect(t.acted()).toEqual(['loginctl lock-session 3']);
    expect(reasons(t.events)).toEqual(['no-answer:lock', 'no-answer:lock']);
  });

  it('record-only and hold-network apply as a decline does', async () => {
    const r = await setup({ policy: { ...recordOnly, aup: { ...recordOnly.aup } } });
    r.hello();
    await r.at(0);
    await r.at(20);
    await r.at(60);
    expect(r.acted()).toEqual([]);
    expect(reasons(r.events)).toEqual(['no-answer:record-only']);

    const hold = recordingNetworkHold();
    const h = await setup({ policy: holdNetwork, networkHold: hold });
    h.hello();
    await h.at(0);
    await h.at(20);
    expect(hold.heldFor()).toBe('24jsmith');
    expect(reasons(h.events)).toEqual(['no-answer:hold-network']);
    await signAll(h.sessions);
    expect(hold.heldFor()).toBe(null);
  });

  it('the deadline comes from the policy’s aup.answerWithinMinutes', async () => {
    const t = await setup({ policy: answerWithin(5) });
    t.hello();
    await t.at(0);
    await t.at(4.9);
    expect(t.acted()).toEqual([]);
    await t.at(5);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
  });

  it('a fake tray that goes and comes back does not restart the deadline', async () => {
    const t = await setup();
    const first = t.hello();
    await t.at(0);
    await t.at(9);
    first.release();
    await t.at(10);
    await t.at(18);
    t.hello();
    await t.at(19);
    expect(t.acted()).toEqual([]);
    await t.at(20);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(reasons(t.events)).toEqual(['no-answer:sign-out']);
  });

  it('a signature restarts the deadline for what is left to sign', async () => {
    const t = await setup({ user: staff });
    t.hello();
    await t.at(0);
    await t.at(15);
    // The first of two documents signed at minute 15: the second has until minute 35.
    const document = (await t.sessions.pending({ uid: null })).documents[0];
    if (document === undefined) {
      throw new Error('nothing is due');
    }
    await t.sessions.sign(
      {
        id: 1,
        channel: 'aup:sign',
        documentId: document.id,
        textSha256: document.textSha256,
        acknowledged: document.statements.map((_, i) => i),
        fullName: 'A Teacher',
        tutorGroup: null,
        parentCarer: null,
      },
      { uid: null },
    );
    await t.at(20);
    await t.at(34.9);
    expect(t.acted()).toEqual([]);
    await t.at(35);
    expect(t.acted()).toEqual(['loginctl lock-session 3']);
    expect(reasons(t.events)).toEqual(['aup.accepted', 'no-answer:lock']);
  });

  it('a clock set back does not count as time passed', async () => {
    const t = await setup();
    t.hello();
    await t.at(0);
    await t.at(-120);
    await t.at(-60);
    expect(t.acted()).toEqual([]);
  });

  it('a restart mid-deadline continues it: the action runs when the original deadline ends', async () => {
    const t = await setup();
    t.hello();
    await t.at(0);
    await t.at(12);
    expect(JSON.parse(await readFile(join(t.dir, 'aup-no-tray.json'), 'utf8'))).toMatchObject({
      noTray: null,
      unanswered: { user: '24jsmith', appliedAt: null },
    });
    await t.restart();
    await t.at(12.5);
    await t.at(19.9);
    expect(t.acted()).toEqual([]);
    await t.at(20);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(t.logs).toContain('AUP answer deadline continues after the restart');
    // Signed out: nothing left on disk for a fresh session to inherit.
    expect(await readdir(t.dir)).not.toContain('aup-no-tray.json');
  });

  it('a restart after the lock neither locks again nor records the decline twice', async () => {
    const t = await setup({ user: staff });
    t.hello();
    await t.at(0);
    await t.at(20);
    await t.restart();
    await t.at(20.5);
    await t.at(45);
    expect(t.acted()).toEqual(['loginctl lock-session 3']);
    expect(reasons(t.events)).toEqual(['no-answer:lock', 'no-answer:lock']);
  });

  const iso = (start: number, minutes: number) => new Date(start + minutes * 60_000).toISOString();
  it.each([
    {
      name: 'begins in the future (it would hold the action off for ever)',
      since: 60 * 24 * 365 * 100,
      firstAction: 20,
      log: /answer deadline from before the restart starts in the future/,
    },
    {
      name: 'is years old: a minute’s grace, never the action on the first look',
      since: -60 * 24 * 365 * 5,
      firstAction: 1,
      log: /answer deadline continues after the restart/,
    },
  ])('an answer deadline in the file that $name', async (c) => {
    const t = await setup({
      prepare: (dir, start) =>
        writeFile(
          join(dir, 'aup-no-tray.json'),
          JSON.stringify({
            noTray: null,
            unanswered: { user: '24jsmith', since: iso(start, c.since), appliedAt: null },
          }),
          { mode: 0o600 },
        ),
    });
    t.hello();
    await t.at(0);
    expect(t.acted()).toEqual([]);
    await t.at(c.firstAction - 0.1);
    expect(t.acted()).toEqual([]);
    await t.at(c.firstAction);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(t.logs.some((line) => c.log.test(line))).toBe(true);
  });

  it('a file of the wrong shape for the answer deadline is refused, moved aside, never declines at once', async () => {
    const t = await setup({
      prepare: (dir) =>
        writeFile(
          join(dir, 'aup-no-tray.json'),
          JSON.stringify({ noTray: null, unanswered: { user: '24jsmith', since: 0 } }),
          { mode: 0o600 },
        ),
    });
    t.hello();
    await t.at(0);
    await t.at(19.9);
    expect(t.acted()).toEqual([]);
    await t.at(20);
    expect(t.acted()).toEqual(['loginctl terminate-session 3']);
    expect(
      t.logs.some((line) => /refused .*answer deadline start fresh; moved aside/.test(line)),
    ).toBe(true);
  });
});

// A subject access export gathers everything the server holds about one console user, fed by real
// signed device batches: signatures and declines from two devices, idle locks, USB decisions, the
// tray-missing alarm, sightings, the screen-lock evidence naming the console user; never anyone
// else's, whatever their name has in common with it; hostile text kept as sent; a long history
// in bounded parts that lose nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION, type AgentEvent, type PersonExport } from '../../../shared/index.ts';
import { ensureSchool } from '../../../server/store/organisation.ts';
import { aupRegister } from '../../../server/store/aup-register.ts';
import { accountPart, personExport, relatedNames } from '../../../server/store/person-export.ts';
import { purgeOldHistory } from '../../../server/store/history-retention.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { report, result, TestDevice } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { usbBlockedEvent } from '../../helpers/usb-sample.ts';
import {
  aupAccepted,
  aupDeclined,
  documentFor,
  idleLocked,
  textSha256,
  type AupDoc,
} from '../../helpers/aup-sample.ts';

/** Markup, a bell, an ANSI escape, a right-to-left override and a zero-width joiner. */
const HOSTILE = '<img src=x onerror=alert(1)>\u0007\u001b[2J\u202Egnp.exe\u200d';

const trayMissing = (user: string, at: Date): AgentEvent => ({
  schemaVersion: SCHEMA_VERSION,
  id: randomUUID(),
  occurredAt: at.toISOString(),
  type: 'tamper.tray-missing',
  data: { user, since: at.toISOString(), minutes: 10 },
});

describeEachEngine('subject access export', (engine) => {
  let server: TestServer;
  let pupilAup: AupDoc;
  let staffAup: AupDoc;
  const laptop = new TestDevice();
  const desktop = new TestDevice();
  const riverside = new TestDevice();
  const t = (minutes: number) => new Date(Date.UTC(2026, 9, 5, 9, minutes));
  const ids: Record<string, string> = {};
  const exportOf = (user: string, extra: { eventsFrom?: Date; maxEvents?: number } = {}) =>
    personExport(server.db, {
      user,
      eventsFrom: extra.eventsFrom ?? null,
      askedBy: 'dpo',
      now: new Date(Date.UTC(2026, 11, 6)),
      ...(extra.maxEvents === undefined ? {} : { maxEvents: extra.maxEvents }),
    });
  const eventIds = (found: PersonExport) => found.events.items.map((e) => e.id).sort();

  beforeAll(async () => {
    server = await startTestServer(engine);
    for (const device of [laptop, desktop, riverside]) {
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
    }
    const other = await ensureSchool(server.db, 'Riverside Academy');
    await server.db.query('update devices set school_id = $1 where id = $2', [
      other.id,
      riverside.id,
    ]);
    pupilAup = await documentFor(server.db, server.groupId, 'pupil');
    staffAup = await documentFor(server.db, server.groupId, 'staff');

    const mine = {
      declined: aupDeclined(pupilAup, { user: 'northgate\\jsmith', at: t(0), action: 'lock' }),
      signedLaptop: aupAccepted(pupilAup, {
        user: 'NORTHGATE\\JSmith',
        at: t(1),
        fullName: `Jo ${HOSTILE}`,
        tutorGroup: '4B',
        parentCarer: 'Sam Smith',
        acknowledged: [0, 1, 2],
      }),
      signedRiverside: aupAccepted(staffAup, { user: 'Northgate\\JSmith', at: t(2) }),
      idle: idleLocked('NORTHGATE\\jsmith', t(3)),
      usb: usbBlockedEvent({ serial: 'S1' }, { user: 'NORTHGATE\\JSMITH', at: t(4) }),
      tray: trayMissing('northgate\\JSmith', t(5)),
    };
    for (const [name, event] of Object.entries(mine)) {
      ids[name] = event.id;
    }
    // Names that share part of it (prefix, suffix, containing it, another form) and names full
    // of LIKE and regular-expression metacharacters.
    const others = [
      'NORTHGATE\\JSmit',
      'JSmith',
      'jsmith@northgate.org',
      'NORTHGATE\\JSmith2',
      'ANORTHGATE\\JSmith',
      'NORTHGATE\\\\JSmith',
      'pupil_1',
      'pupilA%',
      'pupil_%x',
      'school\\sam',
      'a.b',
      HOSTILE,
    ];
    const screenLock = (user: string) => ({
      ...result('screen-lock', 'pass', t(6)),
      evidence: { session: 'present', user, lockEnabled: true, lockAfterSeconds: 300 },
    });
    const sent = [
      await laptop.postBatch(
        server.app,
        [report(laptop.facts, [screenLock('NORTHGATE\\jsmith')], t(6))],
        [mine.declined, mine.signedLaptop, mine.usb, mine.tray],
      ),
      await desktop.postBatch(
        server.app,
        [report(desktop.facts, [screenLock('JSmith')], t(6))],
        [mine.idle, ...others.map((user, i) => idleLocked(user, t(10 + i)))],
      ),
      await riverside.postBatch(
        server.app,
        [],
        [
          mine.signedRiverside,
          aupAccepted(pupilAup, { user: 'pupil_%', at: t(30) }),
          aupAccepted(pupilAup, { user: 'PUPIL_%', at: t(31) }),
          usbBlockedEvent({ serial: 'S9' }, { user: 'a*b', at: t(32) }),
        ],
      ),
    ];
    expect(sent.map((r) => r.status)).toEqual([200, 200, 200]);
  });
  afterAll(() => server.close());

  it('holds every signature and decline, from every device and school, with every detail', async () => {
    const found = await exportOf('Northgate\\jsmith');
    expect(found.userKey).toBe('northgate\\jsmith');
    expect(found.aup.total).toBe(3);
    expect(found.aup.items).toEqual([
      expect.objectContaining({
        eventId: ids.declined,
        outcome: 'declined',
        user: 'northgate\\jsmith',
        declineAction: 'lock',
        // Sent without a reason, as an agent from before `reason` did.
        declineReason: 'not-given',
        deviceId: laptop.id,
        school: 'Northgate Primary',
      }),
      expect.objectContaining({
        eventId: ids.signedLaptop,
        outcome: 'accepted',
        user: 'NORTHGATE\\JSmith',
        documentId: pupilAup.id,
        version: pupilAup.version,
        textSha256: textSha256(pupilAup),
        acknowledged: [0, 1, 2],
        fullName: `Jo ${HOSTILE}`,
        tutorGroup: '4B',
        parentCarer: 'Sam Smith',
        declineReason: null,
        deviceId: laptop.id,
        hostname: laptop.facts.hostname,
        occurredAt: t(1).toISOString(),
      }),
      expect.objectContaining({
        eventId: ids.signedRiverside,
        documentId: staffAup.id,
        role: 'staff',
        deviceId: riverside.id,
        school: 'Riverside Academy',
      }),
    ]);
  });

  it('says why each decline happened, with the AUP register’s values; null for a signature', async () => {
    const reasons = {
      'reason.window': 'declined',
      'reason.notray': 'no-tray',
      'reason.noanswer': 'no-answer',
      'reason.older': undefined,
    } as const;
    const declines = Object.entries(reasons).map(([user, reason], i) =>
      aupDeclined(pupilAup, {
        user,
        at: t(40 + i),
        action: 'lock',
        ...(reason === undefined ? {} : { reason }),
        actionError: user === 'reason.noanswer' ? `the lock action failed: ${HOSTILE}` : null,
      }),
    );
    const signed = aupAccepted(pupilAup, { user: 'reason.signed', at: t(45) });
    expect((await laptop.postBatch(server.app, [], [...declines, signed])).status).toBe(200);
    const register = await aupRegister(
      server.db,
      { id: server.schoolId, name: 'Northgate Primary' },
      {},
      new Date(Date.UTC(2026, 11, 6)),
    );
    for (const [user, reason] of Object.entries(reasons)) {
      const [item] = (await exportOf(user)).aup.items;
      const row = register.outstanding.find((u) => u.user === user);
      expect(item).toMatchObject({ outcome: 'declined', declineReason: reason ?? 'not-given' });
      // The same words the register gives the e-safety lead, for the same decline.
      expect(row?.declineReason).toBe(item?.declineReason);
      expect(row?.declineActionError).toBe(item?.actionError);
    }
    expect((await exportOf('reason.noanswer')).aup.items[0]?.actionError).toBe(
      `the lock action failed: ${HOSTILE}`,
    );
    expect((await exportOf('reason.signed')).aup.items).toEqual([
      expect.objectContaining({ outcome: 'accepted', declineReason: null }),
    ]);
  });

  it('holds every event naming them, with its data as sent, and where they were seen', async () => {
    const found = await exportOf('NORTHGATE\\JSMITH');
    expect(eventIds(found)).toEqual(
      [ids.declined, ids.signedLaptop, ids.signedRiverside, ids.idle, ids.usb, ids.tray].sort(),
    );
    expect(found.events).toMatchObject({ total: 6, truncated: false, nextFrom: null, from: null });
    const usb = found.events.items.find((e) => e.id === ids.usb);
    expect(usb).toMatchObject({
      type: 'usb.blocked',
      deviceId: laptop.id,
      data: { user: 'NORTHGATE\\JSMITH', action: 'blocked' },
    });
    expect(found.seen.map((s) => [s.school, s.deviceId, s.eventType])).toEqual([
      // At Northgate the USB decision (09:04) came after the idle lock (09:03).
      ['Northgate Primary', laptop.id, 'usb.blocked'],
      ['Riverside Academy', riverside.id, 'aup.accepted'],
    ]);
    // The laptop's screen-lock evidence names them; the desktop's names plain `JSmith`.
    expect(found.consoleUserOf).toEqual([
      expect.objectContaining({ deviceId: laptop.id, user: 'NORTHGATE\\jsmith' }),
    ]);
  });

  it('never holds anyone else: prefixes, suffixes, containing names and other forms', async () => {
    const found = JSON.stringify(await exportOf('northgate\\jsmith'));
    for (const other of ['JSmit"', 'JSmith2', 'ANORTHGATE', '\\\\\\\\JSmith', 'jsmith@']) {
      expect(found).not.toContain(other);
    }
    const plain = await exportOf('JSmith');
    expect(plain.aup.items).toEqual([]);
    expect(plain.events.items.map((e) => e.data.user)).toEqual(['JSmith']);
    expect(plain.consoleUserOf.map((d) => d.deviceId)).toEqual([desktop.id]);
    // Other names with the same account part, for ICT to judge: never in an export.
    expect((await relatedNames(server.db, 'NORTHGATE\\jsmith')).sort()).toEqual([
      'ANORTHGATE\\JSmith',
      'JSmith',
      'NORTHGATE\\\\JSmith',
      'jsmith@northgate.org',
    ]);
    // Each under its latest spelling.
    expect((await relatedNames(server.db, 'JSmith')).sort()).toEqual([
      'ANORTHGATE\\JSmith',
      'NORTHGATE\\JSMITH',
      'NORTHGATE\\\\JSmith',
      'jsmith@northgate.org',
    ]);
    const prefix = await exportOf('NORTHGATE\\JSmit');
    expect(prefix.events.items.map((e) => e.data.user)).toEqual(['NORTHGATE\\JSmit']);
    expect(prefix.aup.items).toEqual([]);
  });

  it('treats %, _, \\ and regular-expression characters as themselves', async () => {
    const underscorePercent = await exportOf('pupil_%');
    expect(underscorePercent.aup.items.map((a) => a.user)).toEqual(['pupil_%', 'PUPIL_%']);
    expect(underscorePercent.events.items.map((e) => e.data.user)).toEqual(['pupil_%', 'PUPIL_%']);
    for (const pattern of ['%', '_', 'pupil%', 'pupil__', '.*', 'a.b.', 'a*b', 'school\\%', '\\']) {
      const found = await exportOf(pattern);
      const users = [
        ...found.aup.items.map((a) => a.user),
        ...found.events.items.map((e) => e.data.user),
      ];
      expect(users.every((user) => user === pattern)).toBe(true);
    }
    expect((await exportOf('a*b')).events.total).toBe(1);
    expect((await exportOf('a.b')).events.items.map((e) => e.data.user)).toEqual(['a.b']);
  });

  it('keeps hostile names as sent and looks up a 10 kB name inertly', async () => {
    const hostile = await exportOf(HOSTILE);
    expect(hostile.events.items.map((e) => e.data.user)).toEqual([HOSTILE]);
    const huge = await exportOf(`${'x'.repeat(10_000)}\u0007`);
    expect(huge.aup.total + huge.events.total + huge.seen.length).toBe(0);
  });

  it('splits a long history into parts that together hold every event', async () => {
    const all = eventIds(await exportOf('northgate\\jsmith'));
    const parts: string[] = [];
    let from: Date | undefined;
    for (let part = 0; part < 10; part += 1) {
      const found = await exportOf('northgate\\jsmith', {
        maxEvents: 2,
        ...(from === undefined ? {} : { eventsFrom: from }),
      });
      parts.push(...found.events.items.map((e) => e.id));
      if (found.events.nextFrom === null) {
        break;
      }
      expect(found.events.truncated).toBe(true);
      from = new Date(found.events.nextFrom);
    }
    expect([...new Set(parts)].sort()).toEqual(all);
  });

  it('forgets the events history retention deletes, and keeps the AUP register', async () => {
    const user = 'retention.pupil';
    const old = idleLocked(user, t(0));
    await laptop.postBatch(server.app, [], [old, aupAccepted(pupilAup, { user, at: t(1) })]);
    await server.db.query('update events set received_at = $1 where id = $2', [t(0), old.id]);
    await purgeOldHistory(server.db, 30, new Date(Date.UTC(2026, 11, 1)));
    const found = await exportOf(user);
    expect(found.events.items.map((e) => e.type)).toEqual(['aup.accepted']);
    expect(found.aup.total).toBe(1);
  });

  it('exports a history far past one part, bounded, with the count of the rest', async () => {
    // 25,000 idle locks, written straight to the tables ingest fills (a decade of a busy user).
    await server.db.query(
      `with made as (
         insert into events (id, device_id, type, occurred_at, received_at, data)
         select gen_random_uuid(), $1, 'idle.locked', $2::timestamptz + make_interval(mins => n),
                now(), jsonb_build_object('user', 'busy.teacher', 'idleSeconds', 300)
           from generate_series(1, 25000) as n
         returning id, occurred_at
       )
       insert into person_events (user_key, occurred_at, event_id)
       select 'busy.teacher', occurred_at, id from made`,
      [desktop.id, t(0)],
    );
    const started = performance.now();
    const found = await exportOf('Busy.Teacher');
    const ms = performance.now() - started;
    const bytes = JSON.stringify(found).length;
    console.log(
      `${engine.name}: 25,000-event history exported 20,000 in ${ms.toFixed(0)} ms, ${String(bytes)} bytes`,
    );
    expect(found.events).toMatchObject({ total: 25_000, truncated: true });
    expect(found.events.items).toHaveLength(20_000);
    expect(found.events.nextFrom).toBe(new Date(t(0).getTime() + 20_001 * 60_000).toISOString());
    const rest = await exportOf('busy.teacher', {
      eventsFrom: new Date(found.events.nextFrom ?? ''),
    });
    expect(rest.events).toMatchObject({ total: 5000, truncated: false });
    expect(rest.events.items).toHaveLength(5000);
  });

  it('names the account part of every form of name', () => {
    expect(
      ['SCHOOL\\jsmith', 'jsmith@school.org', 'jsmith', 'A\\B\\jsmith', '@x'].map(accountPart),
    ).toEqual(['jsmith', 'jsmith', 'jsmith', 'jsmith', '@x']);
  });
});

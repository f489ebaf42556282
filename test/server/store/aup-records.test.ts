// AUP signatures and declines as ingest stores them (migration 009): exactly once per event id,
// one query for a user's whole history under any spelling of their name, hostile text kept as
// sent, and text beyond the contract refused with a clear error that stores nothing.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { aupHistory, aupUserKey, signaturesForDevice } from '../../../server/store/aup-records.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { TestDevice } from '../../helpers/device-client.ts';
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

describeEachEngine('AUP records', (engine) => {
  let server: TestServer;
  let pupilAup: AupDoc;
  const laptop = new TestDevice();
  const desktop = new TestDevice();

  beforeAll(async () => {
    server = await startTestServer(engine);
    expect((await laptop.enrol(server.app, server.token)).status).toBe(201);
    expect((await desktop.enrol(server.app, server.token)).status).toBe(201);
    pupilAup = await documentFor(server.db, server.groupId, 'pupil');
  });
  afterAll(() => server.close());

  const recordsOf = (eventId: string) =>
    server.db.query('select 1 from aup_records where event_id = $1', [eventId]);

  it('stores each signature exactly once, however often and however batched it is delivered', async () => {
    const signed = aupAccepted(pupilAup, { user: 'pupil.once' });
    const twiceInOneBatch = await laptop.postBatch(server.app, [], [signed, signed]);
    expect(twiceInOneBatch.status).toBe(200);
    const accepted = (twiceInOneBatch.json() as { accepted: string[] }).accepted;
    expect(new Set(accepted)).toEqual(new Set([signed.id]));
    const resent = await laptop.postBatch(server.app, [], [signed]);
    expect((resent.json() as { accepted: string[] }).accepted).toEqual([signed.id]);
    expect(await recordsOf(signed.id)).toHaveLength(1);
    // The same id from another device is not this device's to write: nothing more is stored.
    const stolen = await desktop.postBatch(server.app, [], [signed]);
    expect((stolen.json() as { accepted: string[] }).accepted).toEqual([]);
    const history = await aupHistory(server.db, 'pupil.once');
    expect(history.map((h) => [h.eventId, h.deviceId])).toEqual([[signed.id, laptop.id]]);
  });

  it("answers a user's whole history, every device and spelling, oldest first, in one query", async () => {
    const t = (minutes: number) => new Date(Date.UTC(2026, 9, 5, 9, minutes));
    const [declined, accepted] = [
      aupDeclined(pupilAup, { user: 'NORTHGATE\\JSmith', at: t(0), action: 'lock' }),
      aupAccepted(pupilAup, {
        user: 'northgate\\jsmith',
        at: t(5),
        fullName: 'Jo Smith',
        tutorGroup: '4B',
        parentCarer: 'Sam Smith',
        acknowledged: [0, 1, 2],
      }),
    ];
    expect((await laptop.postBatch(server.app, [], [declined])).status).toBe(200);
    expect((await desktop.postBatch(server.app, [], [accepted])).status).toBe(200);
    // Someone else whose name merely contains it.
    await laptop.postBatch(server.app, [], [aupAccepted(pupilAup, { user: 'northgate\\jsmith2' })]);

    const history = await aupHistory(server.db, 'Northgate\\JSMITH');
    expect(history).toEqual([
      expect.objectContaining({
        eventId: declined.id,
        outcome: 'declined',
        user: 'NORTHGATE\\JSmith',
        declineAction: 'lock',
        acknowledged: null,
        fullName: null,
        deviceId: laptop.id,
        hostname: laptop.facts.hostname,
        school: 'Northgate Primary',
        occurredAt: t(0).toISOString(),
      }),
      expect.objectContaining({
        eventId: accepted.id,
        outcome: 'accepted',
        user: 'northgate\\jsmith',
        documentId: pupilAup.id,
        version: pupilAup.version,
        textSha256: textSha256(pupilAup),
        acknowledged: [0, 1, 2],
        fullName: 'Jo Smith',
        tutorGroup: '4B',
        parentCarer: 'Sam Smith',
        declineAction: null,
        deviceId: desktop.id,
        occurredAt: t(5).toISOString(),
      }),
    ]);
  });

  it('compares names whatever their case or Unicode composition', async () => {
    expect(aupUserKey('\u00c9LODIE.MARTIN')).toBe(aupUserKey('e\u0301lodie.martin'));
    await laptop.postBatch(
      server.app,
      [],
      [aupAccepted(pupilAup, { user: 'E\u0301lodie.Martin' })],
    );
    expect(await aupHistory(server.db, '\u00e9lodie.martin')).toHaveLength(1);
    expect(await signaturesForDevice(server.db, desktop.id, '\u00c9LODIE.MARTIN')).toEqual([
      expect.objectContaining({ documentId: pupilAup.id, version: pupilAup.version }),
    ]);
  });

  it('keeps each user’s latest sighting at the school, whatever order events arrive in', async () => {
    const at = (hour: number) => new Date(Date.UTC(2026, 10, 3, hour));
    const seen = () =>
      server.db.query<{ user_name: string; last_seen_at: Date; event_type: string }>(
        "select user_name, last_seen_at, event_type from aup_seen_users where user_key = 'pupil.seen'",
      );
    await laptop.postBatch(server.app, [], [idleLocked('Pupil.Seen', at(10))]);
    // Delivered later but older (a device back from a week offline), and one naming nobody.
    await desktop.postBatch(
      server.app,
      [],
      [
        usbBlockedEvent({ serial: 'S1' }, { user: 'pupil.seen', at: at(9) }),
        usbBlockedEvent({ serial: 'S2' }, { user: null, at: at(11) }),
      ],
    );
    expect(await seen()).toEqual([
      { user_name: 'Pupil.Seen', last_seen_at: at(10), event_type: 'idle.locked' },
    ]);
    await desktop.postBatch(
      server.app,
      [],
      [aupDeclined(pupilAup, { user: 'PUPIL.SEEN', at: at(12) })],
    );
    expect(await seen()).toEqual([
      { user_name: 'PUPIL.SEEN', last_seen_at: at(12), event_type: 'aup.declined' },
    ]);
  });

  it('keeps markup, control characters and direction overrides exactly as typed', async () => {
    const name = (HOSTILE + 'x'.repeat(200)).slice(0, 200);
    const signed = aupAccepted(pupilAup, {
      user: HOSTILE,
      fullName: name,
      tutorGroup: HOSTILE,
      parentCarer: HOSTILE,
    });
    expect((await laptop.postBatch(server.app, [], [signed])).status).toBe(200);
    const [stored] = await aupHistory(server.db, HOSTILE);
    expect(stored).toMatchObject({
      user: HOSTILE,
      fullName: name,
      tutorGroup: HOSTILE,
      parentCarer: HOSTILE,
    });
  });

  it('refuses a 10 kB typed name with a clear error and stores nothing of its batch', async () => {
    const before = await server.db.query('select 1 from aup_records');
    const huge = aupAccepted(pupilAup, { user: 'pupil.huge', fullName: 'A'.repeat(10_000) });
    const answer = await laptop.postBatch(server.app, [], [huge]);
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ error: 'invalid-request' });
    expect(JSON.stringify(answer.json())).not.toContain('AAAAAAAAAA');
    expect(await server.db.query('select 1 from aup_records')).toHaveLength(before.length);
    expect(await server.db.query('select 1 from events where id = $1', [huge.id])).toEqual([]);
  });

  it('refuses a NUL character, which the database cannot hold, as bad input', async () => {
    const nul = aupAccepted(pupilAup, { user: 'pupil.nul', fullName: 'Jo\u0000Smith' });
    const answer = await laptop.postBatch(server.app, [], [nul]);
    expect(answer.status).toBe(400);
    expect(await recordsOf(nul.id)).toEqual([]);
  });

  it('stores a decline the service applied because no tray showed the AUP, with its reason', async () => {
    const declined = aupDeclined(pupilAup, { user: 'pupil.notray', reason: 'no-tray' });
    expect((await laptop.postBatch(server.app, [], [declined])).status).toBe(200);
    expect(await aupHistory(server.db, 'pupil.notray')).toEqual([
      expect.objectContaining({
        eventId: declined.id,
        outcome: 'declined',
        declineAction: 'sign-out',
      }),
    ]);
    // The register keeps the outcome; the event as the device sent it says why.
    const [event] = await server.db.query<{ data: { reason?: string } }>(
      'select data from events where id = $1',
      [declined.id],
    );
    expect(event?.data.reason).toBe('no-tray');
  });

  it('keeps why each decline happened: the window, no tray, no answer, or not said by an older agent', async () => {
    const events = [
      aupDeclined(pupilAup, { user: 'pupil.why', reason: 'declined' }),
      aupDeclined(pupilAup, { user: 'pupil.why', reason: 'no-tray' }),
      aupDeclined(pupilAup, { user: 'pupil.why' }),
      aupDeclined(pupilAup, { user: 'pupil.why', reason: 'no-answer' }),
    ];
    expect((await laptop.postBatch(server.app, [], events)).status).toBe(200);
    const rows = await server.db.query<{ event_id: string; decline_reason: string | null }>(
      'select event_id, decline_reason from aup_records where user_key = $1',
      ['pupil.why'],
    );
    expect(new Map(rows.map((row) => [row.event_id, row.decline_reason]))).toEqual(
      new Map([
        [events[0]?.id, 'declined'],
        [events[1]?.id, 'no-tray'],
        [events[2]?.id, null],
        [events[3]?.id, 'no-answer'],
      ]),
    );
  });
});

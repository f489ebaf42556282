// The AUP register (ICT API): per school, who signed which version when and where, who is
// outstanding, a re-sign cycle's progress after a new version, and one signature's signed copy
// with the text checked against its fingerprint. Real signed device batches feed it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AupRegister, AupSignedCopy } from '../../../../../../shared/index.ts';
import { academicYearStart } from '../../../../../../server/store/aup-documents.ts';
import { ensureSchool } from '../../../../../../server/store/organisation.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { usbBlockedEvent } from '../../../../../helpers/usb-sample.ts';
import {
  aupAccepted,
  aupDeclined,
  documentFor,
  idleLocked,
  publishVersion,
  textSha256,
  type AupDoc,
} from '../../../../../helpers/aup-sample.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeEachEngine('ICT AUP register', (engine) => {
  let server: TestServer;
  let viewer: Browser;
  let pupilAup: AupDoc;
  let staffAup: AupDoc;
  const laptop = new TestDevice();
  const desktop = new TestDevice();
  const riverside = new TestDevice();
  // Relative to the academic year the run falls in, so the test holds on any date.
  const cycleStart = academicYearStart(new Date(), '09-01');
  const thisCycle = (hours: number) => new Date(cycleStart.getTime() + hours * HOUR);
  const lastCycle = new Date(cycleStart.getTime() - 30 * DAY);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(engine);
    viewer = await newBrowser(server.app, server.db, 'esafety.lead', 'viewer');
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
    const signedA = aupAccepted(pupilAup, { user: 'pupil.a', at: thisCycle(1), fullName: 'Amy A' });
    const signedB = aupAccepted(pupilAup, { user: 'PUPIL.B', at: lastCycle, fullName: 'Ben B' });
    ids.a = signedA.id;
    ids.b = signedB.id;
    const sent = [
      await laptop.postBatch(
        server.app,
        [],
        [
          signedA,
          signedB,
          idleLocked('pupil.b', thisCycle(2)),
          aupDeclined(pupilAup, { user: 'pupil.c', at: thisCycle(3), action: 'sign-out' }),
          idleLocked('teacher.d', thisCycle(4)),
          usbBlockedEvent({ serial: 'X1' }, { user: 'pupil.e', at: thisCycle(5) }),
          // Last seen before this cycle: a leaver, not outstanding.
          idleLocked('old.leaver', new Date(lastCycle.getTime() - 10 * DAY)),
        ],
      ),
      // Signed at another school of the trust, seen here: signed is signed.
      await riverside.postBatch(
        server.app,
        [],
        [aupAccepted(staffAup, { user: 'Teacher.F', at: thisCycle(6) })],
      ),
      await desktop.postBatch(server.app, [], [idleLocked('teacher.f', thisCycle(7))]),
    ];
    expect(sent.map((answer) => answer.status)).toEqual([200, 200, 200]);
  });
  afterAll(() => server.close());

  const read = async (query: string, browser = viewer) => {
    const response = await browser.request({ method: 'GET', url: `/api/v1/ict/aup/${query}` });
    return { status: response.statusCode, body: response.json<unknown>() };
  };
  const register = async (extra = '') => {
    const answer = await read(`register?school=${server.schoolId}${extra}`);
    expect(answer.status).toBe(200);
    return answer.body as AupRegister;
  };
  const cycleOf = (body: AupRegister, doc: AupDoc) =>
    body.documents.find((d) => d.documentId === doc.id);

  describe('in the first cycle', () => {
    it('lists the school’s signatures, newest first, with device, statements and currency', async () => {
      const body = await register();
      expect(body.school.name).toBe('Northgate Primary');
      expect(body.cycleStartsAt).toBe(cycleStart.toISOString());
      expect(body.signatures).toEqual([
        expect.objectContaining({
          id: ids.a,
          user: 'pupil.a',
          fullName: 'Amy A',
          role: 'pupil',
          documentId: pupilAup.id,
          version: pupilAup.version,
          textSha256: textSha256(pupilAup),
          signedAt: thisCycle(1).toISOString(),
          deviceId: laptop.id,
          hostname: laptop.facts.hostname,
          acknowledged: pupilAup.statements.map((_, i) => i),
          statementCount: pupilAup.statements.length,
          tutorGroup: '7R',
          parentCarer: 'A. Parent',
          current: true,
        }),
        // Last academic year's signature: kept on record, no longer current.
        expect.objectContaining({ id: ids.b, user: 'PUPIL.B', current: false }),
      ]);
      expect(body.truncated).toBe(false);
    });

    it('names who is outstanding, how they were seen, and counts each document', async () => {
      const body = await register();
      expect(body.outstanding.map((u) => [u.user, u.role, u.seenBy])).toEqual([
        ['pupil.b', 'pupil', 'idle-lock'],
        ['pupil.c', 'pupil', 'aup'],
        ['pupil.e', null, 'usb'],
        ['teacher.d', null, 'idle-lock'],
      ]);
      const [b, c] = body.outstanding;
      expect(b).toMatchObject({ lastSignedAt: lastCycle.toISOString(), declinedAt: null });
      expect(c).toMatchObject({
        declinedAt: thisCycle(3).toISOString(),
        declineAction: 'sign-out',
        // An agent from before `reason` said none.
        declineReason: 'not-given',
        declineActionError: null,
        hostname: laptop.facts.hostname,
      });
      expect(b).toMatchObject({ declineReason: null, declineActionError: null });
      expect(cycleOf(body, pupilAup)).toMatchObject({
        version: pupilAup.version,
        signed: 1,
        outstanding: 2,
      });
      expect(cycleOf(body, staffAup)).toMatchObject({ signed: 1, outstanding: 0 });
      expect(body.outstandingRoleUnknown).toBe(2);
    });

    it('narrows to one document version: its signatures, and the users it is for', async () => {
      const body = await register(
        `&document=${pupilAup.id}&version=${encodeURIComponent(pupilAup.version)}`,
      );
      expect(body.signatures.map((s) => s.id)).toEqual([ids.a, ids.b]);
      expect(body.outstanding.map((u) => u.user)).toEqual([
        'pupil.b',
        'pupil.c',
        'pupil.e',
        'teacher.d',
      ]);
      const staff = await register(`&document=${staffAup.id}`);
      expect(staff.signatures).toEqual([]);
      expect(staff.outstanding.map((u) => u.user)).toEqual(['pupil.e', 'teacher.d']);
    });

    it("gives a signature's printable copy: the text signed, verified by its SHA-256", async () => {
      const answer = await read(`signatures/${ids.a}`);
      expect(answer.status).toBe(200);
      const copy = answer.body as AupSignedCopy;
      expect(copy.school).toBe('Northgate Primary');
      expect(copy.signature).toMatchObject({ user: 'pupil.a', fullName: 'Amy A' });
      expect(copy.document).toEqual({
        title: pupilAup.title,
        introduction: pupilAup.introduction,
        statements: pupilAup.statements,
        askTutorGroup: pupilAup.askTutorGroup,
        askParentCarer: pupilAup.askParentCarer,
      });
      expect(copy.documentProblem).toBeNull();
    });

    it('refuses to show a text that does not match what was signed', async () => {
      const otherWords = aupAccepted(pupilAup, { user: 'pupil.g', textSha256: 'f'.repeat(64) });
      const unknownVersion = aupAccepted({ ...pupilAup, version: '1999.9' }, { user: 'pupil.h' });
      await laptop.postBatch(server.app, [], [otherWords, unknownVersion]);
      const mismatch = (await read(`signatures/${otherWords.id}`)).body as AupSignedCopy;
      expect(mismatch.document).toBeNull();
      expect(mismatch.documentProblem).toContain('does not match the fingerprint');
      expect(mismatch.signature.statementCount).toBeNull();
      const missing = (await read(`signatures/${unknownVersion.id}`)).body as AupSignedCopy;
      expect(missing.document).toBeNull();
      expect(missing.documentProblem).toContain('No policy stored on the server holds');
    });
    it('counts a signature from the fortnight before the year began, and only the text in force', async () => {
      const at = (days: number) => new Date(cycleStart.getTime() - days * DAY);
      const early = aupAccepted(pupilAup, { user: 'pupil.early', at: at(10) });
      const tooEarly = aupAccepted(pupilAup, { user: 'pupil.tooearly', at: at(20) });
      const sent = await laptop.postBatch(
        server.app,
        [],
        [
          early,
          tooEarly,
          idleLocked('pupil.early', thisCycle(10)),
          idleLocked('pupil.tooearly', thisCycle(10)),
        ],
      );
      expect(sent.status).toBe(200);
      const body = await register();
      const current = (id: string) => body.signatures.find((s) => s.id === id)?.current;
      expect(current(early.id)).toBe(true);
      expect(current(tooEarly.id)).toBe(false);
      const outstanding = body.outstanding.map((u) => u.user);
      expect(outstanding).not.toContain('pupil.early');
      // pupil.g signed the version in force, but other words than the text in force.
      expect(outstanding).toEqual(expect.arrayContaining(['pupil.tooearly', 'pupil.g']));
    });
  });

  describe('after a new version is published', () => {
    let newPupilAup: AupDoc;
    let pupils = 0;
    beforeAll(async () => {
      const prior = cycleOf(await register(), pupilAup);
      pupils = (prior?.signed ?? 0) + (prior?.outstanding ?? 0);
      newPupilAup = await publishVersion(server.db, server.groupId, pupilAup.id, '2027.1');
    });

    it('counts everyone for the new version as outstanding until they sign it again', async () => {
      const before = await register();
      expect(pupils).toBeGreaterThan(1);
      expect(cycleOf(before, pupilAup)).toMatchObject({
        version: '2027.1',
        signed: 0,
        outstanding: pupils,
      });
      expect(before.signatures.find((s) => s.id === ids.a)?.current).toBe(false);
      const again = aupAccepted(newPupilAup, { user: 'Pupil.A', at: thisCycle(8) });
      expect((await desktop.postBatch(server.app, [], [again])).status).toBe(200);
      const after = await register();
      expect(cycleOf(after, pupilAup)).toMatchObject({ signed: 1, outstanding: pupils - 1 });
      expect(after.outstanding.map((u) => u.user)).not.toContain('pupil.a');
      expect(after.signatures.find((s) => s.id === again.id)).toMatchObject({
        id: again.id,
        version: '2027.1',
        current: true,
      });
      // The old version's signature still prints with the old text: that upload is kept.
      const old = (await read(`signatures/${ids.a}`)).body as AupSignedCopy;
      expect(old.document?.statements).toEqual(pupilAup.statements);
    });
  });

  describe('CSV exports', () => {
    it('hold the rows of each table, in order, with formulas defused', async () => {
      const formula = aupAccepted(staffAup, {
        user: 'teacher.csv',
        at: thisCycle(9),
        fullName: '=HYPERLINK("http://evil.example","Click"), "quoted"',
      });
      expect((await laptop.postBatch(server.app, [], [formula])).status).toBe(200);
      const body = await register();
      const get = (table: string) =>
        viewer.request({
          method: 'GET',
          url: `/api/v1/ict/aup/register/${table}.csv?school=${server.schoolId}`,
        });
      const signatures = await get('signatures');
      expect(signatures.statusCode).toBe(200);
      expect(signatures.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(signatures.headers['content-disposition']).toBe(
        'attachment; filename="hallpass-aup-signatures.csv"',
      );
      const lines = signatures.body.split('\r\n');
      expect(lines[0]).toBe(
        'User,Full name,Role,Document,Version,Signed,Device,Statements acknowledged,' +
          'Tutor group,Parent/carer,Current',
      );
      expect(lines).toHaveLength(body.signatures.length + 2);
      expect(lines.at(-1)).toBe('');
      expect(lines.slice(1, -1).map((line) => line.split(',')[0])).toEqual(
        body.signatures.map((s) => s.user),
      );
      const count = String(staffAup.statements.length);
      expect(lines.find((line) => line.startsWith('teacher.csv,'))).toBe(
        `teacher.csv,"'=HYPERLINK(""http://evil.example"",""Click""), ""quoted""",Staff,` +
          `${staffAup.id},${staffAup.version},${thisCycle(9).toISOString()},` +
          `${laptop.facts.hostname},${count} of ${count},,,Yes`,
      );
      const outstanding = await get('outstanding');
      const rows = outstanding.body.split('\r\n').slice(1, -1);
      expect(rows.map((line) => line.split(',')[0])).toEqual(body.outstanding.map((u) => u.user));
      expect(rows.find((line) => line.startsWith('pupil.c,'))).toBe(
        `pupil.c,Pupil,${thisCycle(3).toISOString()},${laptop.facts.hostname},AUP window,,` +
          `${thisCycle(3).toISOString()},Declined (older agent: no reason given),sign-out,`,
      );
    });
  });

  describe('why a decline happened', () => {
    /** Markup and a formula, as a device might report a failed action. */
    const hostileError = "=cmd|' /c calc'!A1 <img src=x onerror=alert(1)>";

    it('says whether the user declined in the window or no tray showed it, and why an action failed', async () => {
      const sent = await laptop.postBatch(
        server.app,
        [],
        [
          aupDeclined(pupilAup, {
            user: 'pupil.window',
            at: thisCycle(10),
            action: 'lock',
            reason: 'declined',
          }),
          // An earlier decline from the window, then the service's own: the newest counts.
          aupDeclined(pupilAup, { user: 'pupil.notray', at: thisCycle(11), reason: 'declined' }),
          aupDeclined(pupilAup, {
            user: 'pupil.notray',
            at: thisCycle(12),
            action: 'sign-out',
            reason: 'no-tray',
            actionError: hostileError,
          }),
          // A tray was asked to show it and nobody answered within the deadline.
          aupDeclined(pupilAup, {
            user: 'pupil.noanswer',
            at: thisCycle(14),
            action: 'lock',
            reason: 'no-answer',
          }),
        ],
      );
      expect(sent.status).toBe(200);
      const body = await register();
      const row = (user: string) => body.outstanding.find((u) => u.user === user);
      expect(row('pupil.window')).toMatchObject({
        declinedAt: thisCycle(10).toISOString(),
        declineAction: 'lock',
        declineReason: 'declined',
        declineActionError: null,
      });
      expect(row('pupil.notray')).toMatchObject({
        declinedAt: thisCycle(12).toISOString(),
        declineAction: 'sign-out',
        declineReason: 'no-tray',
        // As the device sent it: the page shows it as text, the CSV defuses the formula.
        declineActionError: hostileError,
      });
      expect(row('pupil.noanswer')).toMatchObject({
        declinedAt: thisCycle(14).toISOString(),
        declineAction: 'lock',
        declineReason: 'no-answer',
        declineActionError: null,
      });
      expect(row('pupil.c')?.declineReason).toBe('not-given');

      const csv = await viewer.request({
        method: 'GET',
        url: `/api/v1/ict/aup/register/outstanding.csv?school=${server.schoolId}`,
      });
      const lines = csv.body.split('\r\n');
      expect(lines[0]).toBe(
        'User,Role,Last seen,Device,Seen by,Last signed,Declined,Why declined,On decline,' +
          'Action failed',
      );
      const seen = (at: number) => `${thisCycle(at).toISOString()},${laptop.facts.hostname}`;
      expect(lines.find((line) => line.startsWith('pupil.window,'))).toBe(
        `pupil.window,Pupil,${seen(10)},AUP window,,${thisCycle(10).toISOString()},` +
          'Declined in the window,lock,',
      );
      expect(lines.find((line) => line.startsWith('pupil.notray,'))).toBe(
        `pupil.notray,Pupil,${seen(12)},AUP window,,${thisCycle(12).toISOString()},` +
          `No Hallpass tray showed the window,sign-out,'=cmd|' /c calc'!A1 <img src=x onerror=alert(1)>`,
      );
      expect(lines.find((line) => line.startsWith('pupil.noanswer,'))).toBe(
        `pupil.noanswer,Pupil,${seen(14)},AUP window,,${thisCycle(14).toISOString()},` +
          'No answer in the window within the time allowed,lock,',
      );
    });

    it('holds only the reasons the event schema knows, whatever is sent or stored', async () => {
      const unknown = aupDeclined(pupilAup, { user: 'pupil.unknown', at: thisCycle(13) });
      Object.assign(unknown.data, { reason: '<b>bored</b>' });
      expect((await laptop.postBatch(server.app, [], [unknown])).status).toBe(400);
      // Nor can a row be given a reason by hand, or a signature one at all.
      await expect(
        server.db.query(
          "update aup_records set decline_reason = '<b>bored</b>' where outcome = 'declined'",
        ),
      ).rejects.toThrow(/check constraint/);
      await expect(
        server.db.query(
          "update aup_records set decline_reason = 'declined' where outcome = 'accepted'",
        ),
      ).rejects.toThrow(/check constraint/);
      expect((await register()).outstanding.map((u) => u.user)).not.toContain('pupil.unknown');
    });
  });

  describe('hostile or broken data', () => {
    it('answers rows stored by hand beyond today’s limits, cut to the API’s lengths', async () => {
      const huge = 'A'.repeat(10_000);
      await server.db.query(
        `insert into aup_seen_users (school_id, user_key, user_name, last_seen_at, device_id, event_type)
         values ($1, lower($2), $2, now(), $3, 'idle.locked')`,
        [server.schoolId, huge, laptop.id],
      );
      const body = await register();
      expect(body.outstanding.find((u) => u.user.startsWith('AAAA'))?.user).toBe(
        huge.slice(0, 256),
      );
    });
  });

  describe('access', () => {
    it('needs a session, a known school and valid ids; nothing here changes a signature', async () => {
      const anonymous = await server.app.inject({
        method: 'GET',
        url: `/api/v1/ict/aup/register?school=${server.schoolId}`,
      });
      expect(anonymous.statusCode).toBe(401);
      expect((await read('register?school=00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await read('register?school=northgate')).status).toBe(400);
      expect((await read(`register?school=${server.schoolId}&document=<b>`)).status).toBe(400);
      expect((await read('signatures/not-a-uuid')).status).toBe(400);
      expect((await read('signatures/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      for (const method of ['POST', 'DELETE'] as const) {
        const response = await viewer.request({
          method,
          url: `/api/v1/ict/aup/signatures/${ids.a}`,
        });
        expect(response.statusCode).toBe(404);
      }
    });
  });
});

// The AUP channels of the IPC server: requests are checked against the shared schema before
// the AUP module sees them (a tray cannot name the user, or send more than the event holds),
// and the module's refusals reach the tray as error answers with their reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AupRefusal } from '../../../agent/service/aup-sessions.ts';
import type { AupPending } from '../../../shared/index.ts';
import {
  firstAnswer,
  startServiceSocket,
  unenrolledStatus,
  type ServiceSocket,
} from '../../helpers/ipc-service.ts';

const status = unenrolledStatus();

/** Sends `request` on a fresh connection, proven first (as root, this test's user) unless not. */
async function ask(
  path: string,
  request: unknown,
  proven = true,
): Promise<Record<string, unknown>> {
  const answer = await firstAnswer(
    path,
    proven ? 'proven' : 'plain',
    JSON.stringify(request) + '\n',
  );
  return JSON.parse(answer) as Record<string, unknown>;
}

const nothing: AupPending = { user: 'pupil.0042', documents: [] };
const sign = {
  id: 3,
  channel: 'aup:sign',
  documentId: 'pupil-aup',
  textSha256: 'a'.repeat(64),
  acknowledged: [0, 1],
  fullName: 'Jo',
  tutorGroup: null,
  parentCarer: null,
};

describe('AUP channels over IPC', () => {
  let withAup: string;
  let withoutAup: string;
  const calls: string[] = [];
  const served: ServiceSocket[] = [];

  beforeAll(async () => {
    const aup = await startServiceSocket({
      status: () => status,
      aup: {
        pending: () => {
          calls.push('pending');
          return Promise.resolve(nothing);
        },
        sign: (request, peer) => {
          calls.push(`sign ${request.fullName} uid=${String(peer.uid)}`);
          return request.fullName === 'refuse me'
            ? Promise.reject(new AupRefusal('every statement must be ticked'))
            : Promise.resolve(nothing);
        },
        decline: () => Promise.reject(new Error('disk full')),
      },
    });
    const plain = await startServiceSocket({ status: () => status });
    served.push(aup, plain);
    withAup = aup.path;
    withoutAup = plain.path;
  });
  afterAll(async () => {
    await Promise.all(served.map((socket) => socket.close()));
  });

  it('answers aup:pending with the documents and the status', async () => {
    expect(await ask(withAup, { id: 1, channel: 'aup:pending' })).toEqual({
      id: 1,
      ok: true,
      status,
      aup: nothing,
    });
  });

  it('passes a valid signature on from a proven connection (the module need not check uids)', async () => {
    expect(await ask(withAup, sign)).toMatchObject({ id: 3, ok: true, aup: nothing });
    expect(calls).toContain('sign Jo uid=null');
  });

  it('refuses every AUP channel on a connection that has not proven its user', async () => {
    const before = calls.length;
    for (const request of [
      { id: 1, channel: 'aup:pending' },
      sign,
      { id: 4, channel: 'aup:decline', documentId: 'pupil-aup', textSha256: 'a'.repeat(64) },
    ]) {
      const answer = await ask(withAup, request, false);
      expect(answer.ok).toBe(false);
      expect(String(answer.error)).toMatch(/peer:challenge/);
    }
    expect(calls.length).toBe(before);
  });

  it.each([
    ['a user name the tray claims', { ...sign, user: 'headteacher' }, /unknown key/],
    // The union's other branches make the description noisy; the refusal is what counts.
    ['a name longer than the event holds', { ...sign, fullName: 'x'.repeat(201) }, /invalid/],
    ['a hash that is not one', { ...sign, textSha256: 'abc' }, /textSha256/],
    ['a statement index out of range', { ...sign, acknowledged: [100] }, /acknowledged/],
  ])('refuses %s before the AUP module sees it', async (_name, request, says) => {
    const before = calls.length;
    const answer = await ask(withAup, request);
    expect(answer.ok).toBe(false);
    expect(String(answer.error)).toMatch(says);
    expect(calls.length).toBe(before);
  });

  it('a refusal reaches the tray with its reason; a failure is the service’s', async () => {
    expect(await ask(withAup, { ...sign, fullName: 'refuse me' })).toEqual({
      id: 3,
      ok: false,
      error: 'every statement must be ticked',
    });
    const failed = await ask(withAup, {
      id: 4,
      channel: 'aup:decline',
      documentId: 'pupil-aup',
      textSha256: 'a'.repeat(64),
    });
    expect(failed).toEqual({ id: 4, ok: false, error: 'the service could not do that: disk full' });
  });

  it('a service without the AUP module refuses the channels', async () => {
    expect(await ask(withoutAup, { id: 5, channel: 'aup:pending' })).toEqual({
      id: 5,
      ok: false,
      error: 'this service does not handle the AUP',
    });
  });
});

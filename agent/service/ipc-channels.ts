// The channels of the local IPC (ipc-server.ts carries the lines): what each request may do and
// who may ask it. Every answer is a value, never a rejection. Channels that act for the console
// user (pushes naming users, idle locks and their policy, display requests, the AUP, the tray's
// hello) need a connection proven to be the console user's, or root's; the rest (status, a
// rate-limited pass, the proof itself) are open to any local user.
import {
  describeProblems,
  IpcRequestSchema,
  validate,
  type AgentStatus,
  type AupPending,
  type DisplayRequestsView,
  type IdleLockFailureKind,
  type IdleLockView,
  type IpcPeer,
  type IpcPeerResponse,
  type IpcPush,
  type IpcRequest,
  type IpcResponse,
} from '../../shared/index.ts';
import type { ConsoleUserSource } from '../core/console-user/console-user.ts';
import type { PeerProofPlatform } from '../core/ipc-peer/peer-proof.ts';

/** What the IPC server asks of the service. */
export interface IpcHandlers {
  status(): AgentStatus;
  /** A check pass the tray asked for; may reject (a full disk), which the client hears as an error. */
  runChecks(): Promise<unknown>;
  /**
   * Where pushes come from (the USB guard's decisions). Called once when the server starts with
   * the server's fan-out; returns the unsubscribe. Absent: `events:subscribe` is refused.
   */
  pushes?(publish: (push: IpcPush) => void): () => void;
  /**
   * The tray locked its session (`idle:locked`); the handler records it with the console user it
   * finds itself and its own rate limit. False: not recorded (too soon after the last one).
   * Absent: the channel is refused.
   */
  idleLocked?(idleSeconds: number): Promise<boolean>;
  /**
   * The tray's idle lock could not do its job (`idle:lock-failed`); the handler records it with
   * the console user it finds itself, folding repeats. Absent: the channel is refused.
   */
  idleLockFailed?(kind: IdleLockFailureKind, reason: string): Promise<unknown>;
  /** The idle-lock policy resolved for the console user; absent: idle:policy is refused. */
  idlePolicy?(): Promise<IdleLockView>;
  /**
   * The machine's display power requests (idle:display-requests), read on demand and shared for
   * a few seconds by the handler (display-requests.ts). Absent: the channel is refused.
   */
  displayRequests?(): Promise<DisplayRequestsView>;
  /**
   * The AUP channels (aup-sessions.ts): what the console user must sign, and their signature
   * or decline. Only a proven connection of the console user (or root) reaches them; `peer`
   * keeps aup-sessions' own uid seam, null here because the proof already named the user. A
   * rejection is the client's refusal, with its reason. Absent: the channels are refused.
   */
  aup?: {
    pending(peer: AupPeer): Promise<AupPending>;
    sign(request: Extract<IpcRequest, { channel: 'aup:sign' }>, peer: AupPeer): Promise<AupPending>;
    decline(
      request: Extract<IpcRequest, { channel: 'aup:decline' }>,
      peer: AupPeer,
    ): Promise<AupPending>;
  };
  /**
   * Proof files: where clients make them and how their owner is read. Absent on a Unix socket:
   * the POSIX proof in a `<socket>.peers` folder beside the socket. Absent on a named pipe: the
   * peer channels are refused and every connection stays unproven.
   */
  peerProof?: PeerProofPlatform;
  /** Who sits at the console, to mark a proven connection as the console user's. */
  consoleUser?: ConsoleUserSource;
  /**
   * A proven console user's tray said hello on a connection; returns what to call when that
   * connection closes. Absent: the channel is refused.
   */
  trayHello?(peer: IpcPeer): { release(): void };
}

/** The requester as aup-sessions checks it: its uid when known (null: already checked here). */
export interface AupPeer {
  uid: number | null;
}

// The IPC server lets only a proven console user (or root) reach the AUP channels, so the AUP
// module need not compare uids again.
const AUP_PEER: AupPeer = { uid: null };

/** What answering a line may do to its connection and the server. */
export interface LineContext {
  checkRun: () => Promise<void>;
  subscribe: () => void;
  /** The connection the line came on: who proved to be on the other end, null until then. */
  connection: { readonly peer: IpcPeer | null };
  challenge: () => IpcPeerResponse | string;
  prove: () => Promise<IpcPeer | string>;
  trayHello: (peer: IpcPeer) => void;
}

/** The id of a request that failed validation, when it has a usable one; else 0. */
function requestId(message: unknown): number {
  if (typeof message !== 'object' || message === null || !('id' in message)) {
    return 0;
  }
  const id = message.id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 2 ** 31 ? id : 0;
}

export function errorAnswer(id: number, error: string): IpcResponse {
  return { id, ok: false, error: error.slice(0, 500) };
}

const NO_AUP = 'this service does not handle the AUP';
/** Root, or the user at the console: who may act for the console session. */
export function actsForConsole(peer: IpcPeer | null): boolean {
  return peer !== null && (peer.privileged || peer.console);
}

/** The status as this peer may see it: whose trays are connected is for root and the console user. */
function visibleStatus(status: AgentStatus, peer: IpcPeer | null): AgentStatus {
  if (status.trays === undefined || actsForConsole(peer)) {
    return status;
  }
  const { trays: _trays, ...rest } = status;
  return rest;
}

const NEEDS_PROOF = 'this channel needs a proven connection of the console user (peer:challenge)';

/** Answers one line; never rejects: every failure is an error answer. */
export async function answerLine(
  line: string,
  handlers: IpcHandlers,
  context: LineContext,
): Promise<IpcResponse | IpcPeerResponse> {
  const { checkRun, subscribe, connection } = context;
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return errorAnswer(0, 'not JSON');
  }
  const checked = validate(IpcRequestSchema, message);
  if (!checked.ok) {
    return errorAnswer(
      requestId(message),
      `invalid request: ${describeProblems(checked.problems)}`,
    );
  }
  const request = checked.value;
  const statusAnswer = (id: number): Extract<IpcResponse, { ok: true }> => ({
    id,
    ok: true,
    status: visibleStatus(handlers.status(), connection.peer),
  });
  const aupAnswer = (id: number, aup: AupPending): IpcResponse => ({
    id,
    ok: true,
    status: handlers.status(),
    aup,
  });
  // The AUP handlers, or the refusal: signing acts for the console user, so only their proven
  // connection (or root's) reaches them.
  const aupFor = (id: number): NonNullable<IpcHandlers['aup']> | IpcResponse => {
    if (handlers.aup === undefined) {
      return errorAnswer(id, NO_AUP);
    }
    return actsForConsole(connection.peer) ? handlers.aup : errorAnswer(id, NEEDS_PROOF);
  };
  try {
    switch (request.channel) {
      case 'status:get':
        return statusAnswer(request.id);
      case 'checks:run':
        await checkRun();
        return statusAnswer(request.id);
      case 'events:subscribe':
        if (handlers.pushes === undefined) {
          return errorAnswer(request.id, 'this service sends no pushes');
        }
        // Pushes name users and devices: not for any local user to watch.
        if (!actsForConsole(connection.peer)) {
          return errorAnswer(request.id, NEEDS_PROOF);
        }
        subscribe();
        return statusAnswer(request.id);
      case 'idle:locked':
        if (handlers.idleLocked === undefined) {
          return errorAnswer(request.id, 'this service does not record idle locks');
        }
        if (!actsForConsole(connection.peer)) {
          return errorAnswer(request.id, NEEDS_PROOF);
        }
        if (!(await handlers.idleLocked(request.idleSeconds))) {
          return errorAnswer(request.id, 'an idle lock was recorded moments ago; not recorded');
        }
        return statusAnswer(request.id);
      case 'idle:lock-failed':
        if (handlers.idleLockFailed === undefined) {
          return errorAnswer(request.id, 'this service does not record idle-lock failures');
        }
        if (!actsForConsole(connection.peer)) {
          return errorAnswer(request.id, NEEDS_PROOF);
        }
        // Folded or sent, the report is taken: the tray has nothing to retry.
        await handlers.idleLockFailed(request.kind, request.reason);
        return statusAnswer(request.id);
      case 'idle:policy': {
        if (handlers.idlePolicy === undefined) {
          return errorAnswer(request.id, 'this service does not hold the idle-lock policy');
        }
        // Names the console user and their exemption: for their own tray (or root) only.
        if (!actsForConsole(connection.peer)) {
          return errorAnswer(request.id, NEEDS_PROOF);
        }
        const idleLock = await handlers.idlePolicy();
        return { ...statusAnswer(request.id), idleLock };
      }
      case 'idle:display-requests': {
        if (handlers.displayRequests === undefined) {
          return errorAnswer(request.id, 'this service does not read display requests');
        }
        // Names the programs someone runs: for the console user's tray (or root) only, like the
        // other idle channels. The handler runs the command at most once per interval.
        if (!actsForConsole(connection.peer)) {
          return errorAnswer(request.id, NEEDS_PROOF);
        }
        const displayRequests = await handlers.displayRequests();
        return { ...statusAnswer(request.id), displayRequests };
      }
      case 'aup:pending': {
        const aup = aupFor(request.id);
        return 'ok' in aup ? aup : aupAnswer(request.id, await aup.pending(AUP_PEER));
      }
      case 'aup:sign': {
        const aup = aupFor(request.id);
        return 'ok' in aup ? aup : aupAnswer(request.id, await aup.sign(request, AUP_PEER));
      }
      case 'aup:decline': {
        const aup = aupFor(request.id);
        return 'ok' in aup ? aup : aupAnswer(request.id, await aup.decline(request, AUP_PEER));
      }
      case 'peer:challenge': {
        const answer = context.challenge();
        return typeof answer === 'string'
          ? errorAnswer(request.id, answer)
          : { ...answer, id: request.id };
      }
      case 'peer:prove': {
        const peer = await context.prove();
        return typeof peer === 'string'
          ? errorAnswer(request.id, peer)
          : { id: request.id, ok: true, peer };
      }
      case 'tray:hello': {
        if (handlers.trayHello === undefined) {
          return errorAnswer(request.id, 'this service keeps no tray registry');
        }
        const peer = connection.peer;
        if (peer === null || !peer.console) {
          return errorAnswer(
            request.id,
            "only the console user's tray, on a proven connection, may say hello",
          );
        }
        context.trayHello(peer);
        return statusAnswer(request.id);
      }
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'AupRefusal') {
      return errorAnswer(request.id, error.message);
    }
    // A pass that failed (the disk is full) is the service's trouble, not the client's: the
    // client hears it, the service's own schedule and status carry on.
    return errorAnswer(
      request.id,
      `the service could not do that: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

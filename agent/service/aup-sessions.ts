// The service's side of the AUP (issue 15): notices each new console session, works out what
// that user must sign (policy rules, this device's record, the server's answer about other
// devices, cached for offline), tells the tray (`aup:required`, `aup:pending`), and records a
// signature or a decline itself — with the console user it finds, never a name the tray sends,
// and only for the exact text in force. Events go through the outbox, so they survive a power
// cut and reach the server once however long the device is offline.
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_AUP_ANSWER_WITHIN_MINUTES,
  DEFAULT_TRAY_MISSING_AFTER_MINUTES,
  SCHEMA_VERSION,
  type AgentEvent,
  type AupDeclineAction,
  type AupPending,
  type AupRole,
  type AupSignaturesResponse,
  type IpcRequest,
  type Policy,
} from '../../shared/index.ts';
import {
  aupDocumentsDue,
  aupRoleDecision,
  type AupDue,
  type AupRoleMatch,
} from '../core/aup/index.ts';
import type { SessionActions } from '../core/aup/decline/index.ts';
import type { ConsoleUser, ConsoleUserSource } from '../core/console-user/console-user.ts';
import type { AupSignaturesFetch } from '../core/server-client.ts';
import type { AupEpisode, AupEpisodes } from './aup-no-tray-episode.ts';
import type { AupRecord } from './aup-record.ts';
import { AupRoleMemory } from './aup-role-memory.ts';
import type { AupPeer as IpcPeer } from './ipc-channels.ts';

/** A sign request as the IPC server validated it. */
export type AupSignRequest = Extract<IpcRequest, { channel: 'aup:sign' }>;
/** A decline request as the IPC server validated it. */
export type AupDeclineRequest = Extract<IpcRequest, { channel: 'aup:decline' }>;

/** A refusal the tray hears as the error of its request. */
export class AupRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AupRefusal';
  }
}

/** The hold-network action as this module uses it. */
export interface AupNetworkHold {
  /** Holds the network for `user`'s decline; the actionError, or null when it holds. */
  hold(user: string): Promise<string | null>;
  /** Lifts the hold, if any. */
  release(): Promise<void>;
  /** Whose decline the hold in force is for; null when none is. */
  heldFor(): string | null;
}

/** What the module is built from. */
export interface AupSessionsOptions {
  consoleUser: ConsoleUserSource;
  policy: { current(): Policy; onChange(listener: (policy: Policy) => void): () => void };
  record: AupRecord;
  /** The server's answer about a user; null when the device is not enrolled. */
  lookup(user: string): Promise<AupSignaturesFetch | null>;
  actions: SessionActions;
  recordEvent(event: AgentEvent): Promise<void>;
  push(pending: AupPending): void;
  log: {
    warn(details: Record<string, unknown>, message: string): void;
    info(details: Record<string, unknown>, message: string): void;
  };
  now(): Date;
  /**
   * The network hold (agent/service/network-hold-duty.ts) for the hold-network action. Absent:
   * that action is recorded with an actionError saying the service cannot hold.
   */
  networkHold?: AupNetworkHold;
  /** The device's group name, for rules by device group; null while the device does not know. */
  deviceGroup?: () => string | null;
  /**
   * The uid of a login name, to hold a requester with proven credentials to the console user.
   * Absent (or answering null): a peer's uid cannot be compared and the request is refused.
   */
  uidOf?: (user: string) => Promise<number | null>;
  /**
   * Whether a tray of `user` is connected now (agent/service/tray-registry.ts). Given, an AUP
   * due for the console user that no tray shows within the policy's tray allowance
   * (`tray.missingAfterMinutes`) gets the role's decline action from the service itself, as if
   * the user had declined: killing the tray must not skip the AUP. Absent: the service waits
   * for the tray however long it takes. Given, a tray of the user's asked to show the window
   * starts the answer deadline (`aup.answerWithinMinutes`): no signature or decline by then is
   * a decline too, so a program that says `tray:hello` and shows nothing cannot hold it off.
   */
  trayConnected?: (user: string) => boolean;
  /**
   * Where the no-tray episode and the answer deadline are kept across a restart
   * (agent/service/aup-no-tray-episode.ts): those found at start continue, so a restart does not
   * give the allowance or the deadline again. Absent: they live only in this process.
   */
  noTrayEpisode?: {
    loaded(): AupEpisodes;
    save(episodes: AupEpisodes): Promise<void>;
  };
  /**
   * The role each user last had from a complete group list, and since when a user has waited
   * for one (agent/service/aup-role-memory.ts, in the state folder). Absent: kept only in this
   * process.
   */
  roleMemory?: AupRoleMemory;
  /**
   * How long a user whose groups cannot all be read, and whose role is not remembered, waits
   * for a readable group list before the policy's `defaultRole` is used. Absent: 30 minutes.
   */
  roleWaitMs?: number;
  /** How often the console is looked at for a new session. */
  pollMs?: number;
  /** How long a server answer is fresh before a new session asks again. */
  lookupFreshMs?: number;
  /** How long `aup:pending` waits for a lookup in flight before answering from the cache. */
  lookupWaitMs?: number;
}

const DECLINE_REPEAT_MS = 60_000;
/** How long a user with an undecidable role and none remembered waits before `defaultRole`. */
export const DEFAULT_AUP_ROLE_WAIT_MS = 30 * 60_000;

/**
 * How a user's AUP role was decided: `groups` (the rules on a group list that says it for
 * certain), `remembered` (groups incomplete: the role they last had for certain), `waiting`
 * (groups incomplete, nothing remembered: no role yet) or `default-after-wait` (still so after
 * the wait: the policy's `defaultRole`).
 */
export type AupRoleState =
  | { kind: 'decided'; match: AupRoleMatch; source: 'groups' | 'remembered' | 'default-after-wait' }
  | { kind: 'waiting'; since: number };
/**
 * Least time an episode carried over a restart leaves before the action: one whose allowance ran
 * out while the service was down (or a stale file) does not act on the first look.
 */
const RESUMED_GRACE_MS = 60_000;

/** The AUP duty of the service: start/stop, and the three IPC answers. */
export class AupSessions {
  readonly #o: AupSessionsOptions;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  /** The console user with an AUP due and no tray, since when, and when the action last ran. */
  #noTray: AupEpisode | null = null;
  /**
   * The console user whose tray was asked to show the window, since when (or since their last
   * signature), and when the no-answer action ran or they declined (then nothing more this
   * session).
   */
  #unanswered: AupEpisode | null = null;
  /** The episodes as last saved (a change is written, not every look). */
  #savedEpisodes: string = JSON.stringify({ noTray: null, unanswered: null });
  /** The no-tray episode came from the file and is not yet checked against the clock. */
  #resumed = false;
  /** The answer deadline came from the file and is not yet checked against the clock. */
  #resumedUnanswered = false;
  #lastUser: string | null = null;
  #unsubscribe: (() => void) | null = null;
  readonly #lookups = new Map<string, Promise<void>>();
  readonly #lastDecline = new Map<string, number>();
  readonly #roles: AupRoleMemory;
  /** The last role state logged (user and how it was decided): a change is logged, not each look. */
  #roleLogged: string | null = null;

  constructor(options: AupSessionsOptions) {
    this.#o = options;
    this.#roles = options.roleMemory ?? AupRoleMemory.inMemory();
    const loaded = options.noTrayEpisode?.loaded();
    if (loaded !== undefined) {
      this.#noTray = loaded.noTray === null ? null : { ...loaded.noTray };
      this.#unanswered = loaded.unanswered === null ? null : { ...loaded.unanswered };
      this.#savedEpisodes = JSON.stringify(this.#episodes());
      this.#resumed = this.#noTray !== null;
      this.#resumedUnanswered = this.#unanswered !== null;
    }
  }

  /** Starts watching the console; the first look happens at once. */
  start(): void {
    if (this.#timer !== null) {
      return;
    }
    this.#timer = setInterval(() => void this.check(), this.#o.pollMs ?? 5_000);
    this.#timer.unref();
    // A new policy can make a document due for the user already at the console.
    this.#unsubscribe = this.#o.policy.onChange(() => {
      this.#lastUser = null;
      void this.check();
    });
    void this.check();
  }

  /** Looks at the console once (what the timer does); resolves when that look is done. */
  check(): Promise<void> {
    // One look at a time: a console-user command slower than the poll must not pile up.
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  /** Stops watching; requests in flight finish. */
  stop(): void {
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /** What the console user must sign now (`aup:pending`). */
  async pending(peer: IpcPeer): Promise<AupPending> {
    const user = await this.#consoleUser(peer, false);
    if (user === null) {
      return { user: null, documents: [] };
    }
    const inFlight = this.#lookups.get(user.name.toLowerCase());
    if (inFlight !== undefined) {
      await Promise.race([inFlight, delay(this.#o.lookupWaitMs ?? 5_000)]);
    }
    return this.#pendingOf(user, this.#due(user));
  }

  /** Records a signature (`aup:sign`); refuses anything but the complete, current document. */
  async sign(request: AupSignRequest, peer: IpcPeer): Promise<AupPending> {
    const user = await this.#requiredUser(peer);
    const due = this.#due(user);
    const item = this.#dueDocument(due, user, request.documentId, request.textSha256);
    if (item === null) {
      // Signed already (a double click, a second window): nothing more to record.
      return this.#pendingOf(user, due);
    }
    const { document, textSha256 } = item;
    const every = document.statements.map((_, index) => index);
    if (
      request.acknowledged.length !== every.length ||
      request.acknowledged.some((value, index) => value !== every[index])
    ) {
      throw new AupRefusal('every statement must be ticked, one by one, before signing');
    }
    const fullName = request.fullName.trim();
    if (fullName === '') {
      throw new AupRefusal('type your full name to sign');
    }
    const tutorGroup = document.askTutorGroup ? (request.tutorGroup?.trim() ?? '') : null;
    if (tutorGroup === '') {
      throw new AupRefusal('this document asks for your tutor group');
    }
    const parentCarer = document.askParentCarer ? (request.parentCarer?.trim() ?? '') : null;
    if (parentCarer === '') {
      throw new AupRefusal('this document asks for a parent or carer');
    }
    const now = this.#o.now();
    await this.#o.recordEvent({
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: now.toISOString(),
      type: 'aup.accepted',
      data: {
        ...this.#eventBase(user, due, item),
        acknowledged: every,
        fullName,
        tutorGroup,
        parentCarer,
      },
    });
    // After the outbox holds the event: a crash in between asks again, never loses a signature.
    await this.#o.record.addSignature({
      user: user.name,
      documentId: document.id,
      version: document.version,
      textSha256,
      signedAt: now.toISOString(),
    });
    this.#o.log.info({ documentId: document.id, version: document.version }, 'AUP signed');
    const after = this.#due(user);
    // An answer: whatever is left gets the whole deadline from now (nothing left: none runs).
    this.#unanswered =
      after.due.length === 0
        ? null
        : { user: user.name.toLowerCase(), since: now.getTime(), appliedAt: null };
    await this.#saveEpisode();
    // Signed everything due: a network held for their decline opens at once.
    await this.#releaseHoldUnlessDue(user, after);
    return this.#pendingOf(user, after);
  }

  /** Records a decline (`aup:decline`) and runs the policy's action for the user's role. */
  async decline(request: AupDeclineRequest, peer: IpcPeer): Promise<AupPending> {
    const user = await this.#requiredUser(peer);
    const due = this.#due(user);
    const item = this.#dueDocument(due, user, request.documentId, request.textSha256);
    if (item === null || due.role === null) {
      return this.#pendingOf(user, due);
    }
    const action = this.#actionOf(due.role);
    const actionError = await this.#runAction(action, user.name);
    const now = this.#o.now();
    // An answer: no no-answer decline on top of it this session. Signed out, the next session
    // (asked again at login) gets the deadline afresh.
    this.#unanswered =
      action === 'sign-out' && actionError === null
        ? null
        : { user: user.name.toLowerCase(), since: now.getTime(), appliedAt: now.getTime() };
    await this.#saveEpisode();
    const repeat = `${user.name.toLowerCase()}\n${item.document.id}`;
    const last = this.#lastDecline.get(repeat);
    // A window that is closed again and again (record-only) is one decline a minute, not a
    // flood of events; the action itself runs every time.
    if (last === undefined || now.getTime() - last >= DECLINE_REPEAT_MS || now.getTime() < last) {
      this.#lastDecline.set(repeat, now.getTime());
      await this.#recordDecline(user, due, item, now.getTime(), {
        action,
        actionError,
        reason: 'declined',
      });
    }
    if (actionError !== null) {
      this.#o.log.warn({ action, actionError }, 'AUP declined; the decline action failed');
    }
    return { ...this.#pendingOf(user, due), declined: { action, actionError } };
  }

  #actionOf(role: AupRole): AupDeclineAction {
    const aup = this.#o.policy.current().aup;
    return aup.onDeclineByRole?.[role] ?? aup.onDecline;
  }

  /**
   * An AUP due for the console user and no tray of theirs connected: after the tray allowance,
   * the role's decline action, recorded as `aup.declined` with reason `no-tray`. A lock runs
   * again each minute the tray stays away (a pupil who unlocks is locked again), a hold that
   * failed is tried again; signing, or a tray back, ends it (a hold stays until they sign, as
   * for a decline). One event per episode, not one a minute.
   */
  async #enforceWithoutTray(user: ConsoleUser | null): Promise<void> {
    const acted = await this.#applyWithoutTray(user);
    // One decline action a look: a no-tray action just run leaves the deadline to the next.
    if (!acted) {
      await this.#applyAnswerDeadline(user);
    }
    await this.#saveEpisode();
  }

  #episodes(): AupEpisodes {
    return {
      noTray: this.#noTray === null ? null : { ...this.#noTray },
      unanswered: this.#unanswered === null ? null : { ...this.#unanswered },
    };
  }

  /** Keeps the episodes on disk when they changed; a failed write is logged, never thrown. */
  async #saveEpisode(): Promise<void> {
    const store = this.#o.noTrayEpisode;
    const episodes = this.#episodes();
    const now = JSON.stringify(episodes);
    if (store === undefined || now === this.#savedEpisodes) {
      return;
    }
    try {
      await store.save(episodes);
      this.#savedEpisodes = now;
    } catch (error) {
      this.#o.log.warn(
        { error: String(error) },
        'AUP no-tray episode not saved; a restart would start the tray allowance and the answer deadline again',
      );
    }
  }

  /**
   * A tray of the console user's asked to show a due AUP (it asks `aup:pending` when it
   * connects, and hears `aup:required`) and no signature or decline within the policy's
   * `aup.answerWithinMinutes`: the role's decline action, recorded as `aup.declined` with reason
   * `no-answer`, once, as a decline from the window is (a real window covers the desktop until
   * answered, so a real user who leaves it that long is not using the machine). The deadline
   * runs from the first look that finds their tray with something due and is not restarted by
   * a tray that goes and comes back (that would let a fake tray hold it off by reconnecting);
   * a signature restarts it for what is left, and another user, nobody at the console, or
   * nothing due ends it. After the action the user is asked again at their next login: a
   * sign-out gives the next session the deadline afresh; after a lock, a hold or a record the
   * rest of this session gets nothing more, as after a decline in the window.
   */
  async #applyAnswerDeadline(user: ConsoleUser | null): Promise<void> {
    const trayConnected = this.#o.trayConnected;
    if (trayConnected === undefined) {
      return;
    }
    const resumed = this.#resumedUnanswered;
    this.#resumedUnanswered = false;
    if (user === null) {
      this.#unanswered = null;
      return;
    }
    const due = this.#due(user);
    if (due.due.length === 0 || due.role === null) {
      this.#unanswered = null;
      return;
    }
    const key = user.name.toLowerCase();
    const now = this.#o.now().getTime();
    if (this.#unanswered?.user !== key) {
      // Asked: their tray is connected, so it heard `aup:required` or asked `aup:pending`.
      this.#unanswered = trayConnected(user.name)
        ? { user: key, since: now, appliedAt: null }
        : null;
      return;
    }
    const episode = this.#unanswered;
    if (episode.appliedAt !== null) {
      // Answered by a decline, or the no-answer action ran: nothing more this session.
      if (episode.appliedAt > now) {
        episode.appliedAt = now;
      }
      return;
    }
    const minutes =
      this.#o.policy.current().aup.answerWithinMinutes ?? DEFAULT_AUP_ANSWER_WITHIN_MINUTES;
    if (resumed) {
      // Carried over a restart, like the no-tray episode: a start in the future starts afresh,
      // and a deadline that passed while the service was down leaves a minute's grace.
      if (episode.since > now) {
        this.#o.log.warn(
          { since: new Date(episode.since).toISOString() },
          'AUP answer deadline from before the restart starts in the future; it starts fresh',
        );
        this.#unanswered = trayConnected(user.name)
          ? { user: key, since: now, appliedAt: null }
          : null;
        return;
      }
      episode.since = Math.max(episode.since, now - minutes * 60_000 + RESUMED_GRACE_MS);
      this.#o.log.info(
        { since: new Date(episode.since).toISOString(), minutes },
        'AUP answer deadline continues after the restart',
      );
    }
    // A clock set back makes the gap negative: nothing until it has really been that long.
    if (now - episode.since < minutes * 60_000) {
      return;
    }
    const action = this.#actionOf(due.role);
    episode.appliedAt = now;
    const actionError = await this.#runAction(action, user.name);
    for (const item of due.due) {
      await this.#recordDecline(user, due, item, now, { action, actionError, reason: 'no-answer' });
    }
    this.#o.log.warn(
      { action, actionError, minutes },
      'AUP window unanswered within the deadline: the decline action applied',
    );
    if (action === 'sign-out' && actionError === null) {
      // Signed out: asked again at their next login, with the deadline afresh.
      this.#unanswered = null;
    }
  }

  /** Returns whether the decline action ran in this look. */
  async #applyWithoutTray(user: ConsoleUser | null): Promise<boolean> {
    const trayConnected = this.#o.trayConnected;
    if (trayConnected === undefined) {
      return false;
    }
    const resumed = this.#resumed;
    this.#resumed = false;
    if (user === null) {
      this.#noTray = null;
      return false;
    }
    const due = this.#due(user);
    if (due.due.length === 0 || due.role === null || trayConnected(user.name)) {
      this.#noTray = null;
      return false;
    }
    const key = user.name.toLowerCase();
    const now = this.#o.now().getTime();
    if (this.#noTray?.user !== key) {
      this.#noTray = { user: key, since: now, appliedAt: null };
      return false;
    }
    const episode = this.#noTray;
    const minutes =
      this.#o.policy.current().tray?.missingAfterMinutes ?? DEFAULT_TRAY_MISSING_AFTER_MINUTES;
    if (resumed) {
      // Carried over a restart: the allowance continues from when the episode began, unless the
      // file's times cannot be (a start in the future), or too little of it is left to act on.
      if (episode.since > now || (episode.appliedAt ?? now) > now) {
        this.#o.log.warn(
          { since: new Date(episode.since).toISOString() },
          'AUP no-tray episode from before the restart starts in the future; the allowance starts fresh',
        );
        this.#noTray = { user: key, since: now, appliedAt: null };
        return false;
      }
      const latest = now - minutes * 60_000 + RESUMED_GRACE_MS;
      if (episode.appliedAt === null && episode.since < latest) {
        episode.since = latest;
      }
      this.#o.log.info(
        { since: new Date(episode.since).toISOString(), minutes },
        'AUP no-tray episode continues after the restart',
      );
    }
    // A clock set back makes the gap negative: nothing until it has really been that long.
    if (now - episode.since < minutes * 60_000) {
      return false;
    }
    const action = this.#actionOf(due.role);
    const first = episode.appliedAt === null;
    if (!first) {
      const sinceLast = now - (episode.appliedAt ?? now);
      const held = (this.#o.networkHold?.heldFor() ?? '').toLowerCase() === key;
      if (
        action === 'record-only' ||
        (action === 'hold-network' && held) ||
        (sinceLast >= 0 && sinceLast < DECLINE_REPEAT_MS)
      ) {
        return false;
      }
    }
    episode.appliedAt = now;
    const actionError = await this.#runAction(action, user.name);
    if (first) {
      for (const item of due.due) {
        await this.#recordDecline(user, due, item, now, { action, actionError, reason: 'no-tray' });
      }
    }
    this.#o.log.warn(
      { action, actionError, minutes },
      'AUP due and no tray showed it: the decline action applied',
    );
    if (action === 'sign-out' && actionError === null) {
      // Signed out: their next session gets the allowance afresh, for a tray that starts late.
      this.#noTray = null;
    }
    return true;
  }

  async #releaseHoldUnlessDue(user: ConsoleUser, due: AupDue): Promise<void> {
    const heldFor = this.#o.networkHold?.heldFor() ?? null;
    if (
      heldFor !== null &&
      heldFor.toLowerCase() === user.name.toLowerCase() &&
      due.due.length === 0
    ) {
      await this.#releaseHold('nothing is left to sign');
    }
  }

  async #releaseHold(why: string): Promise<void> {
    try {
      await this.#o.networkHold?.release();
      this.#o.log.info({ why }, 'AUP network hold released');
    } catch (error) {
      this.#o.log.warn({ error: String(error) }, 'AUP network hold could not be released');
    }
  }

  async #runAction(action: AupDeclineAction, user: string): Promise<string | null> {
    try {
      switch (action) {
        case 'sign-out':
          return await this.#o.actions.signOut(user);
        case 'lock':
          return await this.#o.actions.lock(user);
        case 'record-only':
          return null;
        case 'hold-network':
          return this.#o.networkHold === undefined
            ? 'this service cannot hold the network: recorded only'
            : await this.#o.networkHold.hold(user);
      }
    } catch (error) {
      return `the ${action} action failed: ${error instanceof Error ? error.message : String(error)}`.slice(
        0,
        1000,
      );
    }
  }

  /** Records an `aup.declined` event for one document: how it was declined, and what followed. */
  async #recordDecline(
    user: ConsoleUser,
    due: AupDue,
    item: AupDue['due'][number],
    at: number,
    outcome: {
      action: AupDeclineAction;
      actionError: string | null;
      reason: 'declined' | 'no-tray' | 'no-answer';
    },
  ): Promise<void> {
    await this.#o.recordEvent({
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: new Date(at).toISOString(),
      type: 'aup.declined',
      data: { ...this.#eventBase(user, due, item), ...outcome },
    });
  }

  #eventBase(
    user: ConsoleUser,
    due: AupDue,
    item: AupDue['due'][number],
  ): {
    user: string;
    role: 'staff' | 'pupil';
    documentId: string;
    kind: 'aup' | 'device-contract';
    version: string;
    textSha256: string;
  } {
    return {
      user: user.name.slice(0, 256),
      role: due.role ?? item.document.role,
      documentId: item.document.id,
      kind: item.document.kind,
      version: item.document.version,
      textSha256: item.textSha256,
    };
  }

  /** The due document the request names, null when it is not due; refuses a stale text. */
  #dueDocument(
    due: AupDue,
    user: ConsoleUser,
    documentId: string,
    textSha256: string,
  ): AupDue['due'][number] | null {
    const item = due.due.find((d) => d.document.id === documentId);
    if (item === undefined) {
      const known = this.#o.policy
        .current()
        .aup.documents.some((d) => d.id === documentId && d.role === due.role);
      if (!known) {
        throw new AupRefusal(`${user.name} has no document ${documentId} to sign`);
      }
      return null;
    }
    if (item.textSha256 !== textSha256) {
      throw new AupRefusal(
        'the document changed after it was shown; nothing recorded: show the current text and sign again',
      );
    }
    return item;
  }

  /**
   * The role `user` has for the AUP now. From the groups when the group list says it for certain
   * (complete, or the missing groups could not change it); otherwise the role they last had for
   * certain; otherwise none yet (nothing is shown, as when the console user cannot be read) until
   * they have waited `roleWaitMs`, then the policy's `defaultRole`. Never guessed from an
   * incomplete list: that would show a member of staff at home the pupil AUP, sign them out for
   * declining it and record them as a pupil.
   */
  roleOf(user: ConsoleUser): AupRoleState {
    const decision = aupRoleDecision(
      user,
      this.#o.deviceGroup?.() ?? null,
      this.#o.policy.current().aup,
    );
    if (decision.certain) {
      return {
        kind: 'decided',
        match: { role: decision.role, ruleId: decision.ruleId },
        source: 'groups',
      };
    }
    const remembered = this.#roles.roleOf(user.name);
    if (remembered !== null) {
      return {
        kind: 'decided',
        match: { role: remembered.role, ruleId: remembered.ruleId },
        source: 'remembered',
      };
    }
    const now = this.#o.now().getTime();
    const stored = this.#roles.waitingSince(user.name);
    // Not yet noted by a look, or a start in the future (a clock set back, a stale file): now.
    const since = stored === null || stored > now ? now : stored;
    if (now - since < (this.#o.roleWaitMs ?? DEFAULT_AUP_ROLE_WAIT_MS)) {
      return { kind: 'waiting', since };
    }
    return {
      kind: 'decided',
      match: { role: decision.role, ruleId: decision.ruleId },
      source: 'default-after-wait',
    };
  }

  /** Keeps what a look found about the user's role (remembered, or the wait), and logs a change. */
  async #noteRole(user: ConsoleUser): Promise<AupRoleState> {
    const state = this.roleOf(user);
    const now = this.#o.now();
    try {
      if (state.kind === 'decided' && state.source === 'groups') {
        await this.#roles.remember(user.name, state.match, now);
      } else if (state.kind === 'waiting') {
        const stored = this.#roles.waitingSince(user.name);
        if (stored === null || stored !== state.since) {
          await this.#roles.startWaiting(user.name, new Date(state.since), { restart: true });
        }
      }
    } catch (error) {
      this.#o.log.warn(
        { error: String(error) },
        'AUP role memory not saved; a restart would not remember this role or wait',
      );
    }
    const source = state.kind === 'waiting' ? 'waiting' : state.source;
    const logged = `${user.name.toLowerCase()}\n${source}`;
    if (logged !== this.#roleLogged) {
      this.#roleLogged = logged;
      const minutes = (this.#o.roleWaitMs ?? DEFAULT_AUP_ROLE_WAIT_MS) / 60_000;
      if (state.kind === 'waiting') {
        this.#o.log.warn(
          { user: user.name, since: new Date(state.since).toISOString(), minutes },
          "AUP: the user's groups cannot all be read and no role is remembered; nothing is shown until they can, or the wait ends",
        );
      } else if (state.source === 'remembered') {
        this.#o.log.info(
          { user: user.name, role: state.match.role, ruleId: state.match.ruleId },
          "AUP: the user's groups cannot all be read; using the role they last had",
        );
      } else if (state.source === 'default-after-wait') {
        this.#o.log.warn(
          { user: user.name, role: state.match.role, minutes },
          "AUP: the user's groups could not all be read for the whole wait and no role is remembered; the policy's defaultRole applies",
        );
      }
    }
    return state;
  }

  #due(user: ConsoleUser): AupDue {
    const state = this.roleOf(user);
    if (state.kind === 'waiting') {
      return { role: null, ruleId: null, due: [] };
    }
    return aupDocumentsDue({
      user,
      role: state.match,
      deviceGroup: this.#o.deviceGroup?.() ?? null,
      aup: this.#o.policy.current().aup,
      local: this.#o.record.signaturesOf(user.name),
      remote: this.#o.record.remoteOf(user.name)?.answer ?? null,
      now: this.#o.now(),
    });
  }

  #pendingOf(user: ConsoleUser, due: AupDue): AupPending {
    return {
      user: user.name.slice(0, 256),
      role: due.role,
      documents: due.due.map(({ document, textSha256, reason }) => ({
        ...document,
        textSha256,
        reason,
      })),
    };
  }

  async #requiredUser(peer: IpcPeer): Promise<ConsoleUser> {
    const user = await this.#consoleUser(peer, true);
    if (user === null) {
      throw new AupRefusal('nobody is signed in at the console: nothing recorded');
    }
    return user;
  }

  /** The console user, checked against the requester once the IPC server proves who that is. */
  async #consoleUser(peer: IpcPeer, strict: boolean): Promise<ConsoleUser | null> {
    let user: ConsoleUser | null;
    try {
      user = await this.#o.consoleUser.current();
    } catch (error) {
      if (strict) {
        throw new AupRefusal(
          `cannot tell who is at the console: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      return null;
    }
    if (user !== null && peer.uid !== null) {
      const uid = (await this.#o.uidOf?.(user.name).catch(() => null)) ?? null;
      if (uid !== peer.uid) {
        throw new AupRefusal('only the user at the console can see or sign their AUP');
      }
    }
    return user;
  }

  /** Looks at the console; a new user gets the server asked and the tray told. */
  async #poll(): Promise<void> {
    try {
      let user: ConsoleUser | null;
      try {
        user = await this.#o.consoleUser.current();
      } catch {
        user = null;
      }
      // A user whose role is not decided yet counts as not seen: when it is, the tray is told.
      const decided = user === null || (await this.#noteRole(user)).kind === 'decided';
      const name = decided ? (user?.name ?? null) : null;
      // A hold is for the decliner's session while they still have something to sign: another
      // user at the console, nobody, or nothing left due (signed elsewhere, a new policy) opens it.
      const heldFor = this.#o.networkHold?.heldFor() ?? null;
      if (heldFor !== null) {
        if (user === null || user.name.toLowerCase() !== heldFor.toLowerCase()) {
          await this.#releaseHold('the console user changed');
        } else {
          await this.#releaseHoldUnlessDue(user, this.#due(user));
        }
      }
      if (name !== this.#lastUser) {
        this.#lastUser = name;
        if (user !== null && decided) {
          await this.#refresh(user.name);
          const pending = this.#pendingOf(user, this.#due(user));
          if (pending.documents.length > 0) {
            this.#o.push(pending);
          }
        }
      }
      await this.#enforceWithoutTray(user);
    } catch (error) {
      this.#o.log.warn({ error: String(error) }, 'AUP: could not work out what to sign');
    }
  }

  /** Asks the server about `user` unless a fresh answer is cached; offline keeps the cache. */
  #refresh(user: string): Promise<void> {
    const key = user.toLowerCase();
    const cached = this.#o.record.remoteOf(user);
    const age = cached === null ? Infinity : this.#o.now().getTime() - Date.parse(cached.fetchedAt);
    if (age >= 0 && age < (this.#o.lookupFreshMs ?? 10 * 60_000)) {
      return Promise.resolve();
    }
    const running = this.#lookups.get(key);
    if (running !== undefined) {
      return running;
    }
    const lookup = (async () => {
      const found = await this.#o.lookup(user);
      if (found === null) {
        return;
      }
      if (found.kind === 'failed') {
        this.#o.log.warn(
          { error: found.error instanceof Error ? found.error.message : String(found.error) },
          'AUP: the server could not say what was signed elsewhere; using the cached answer',
        );
        return;
      }
      await this.#o.record.setRemote(found.answer satisfies AupSignaturesResponse, this.#o.now());
    })()
      .catch((error: unknown) => {
        this.#o.log.warn({ error: String(error) }, 'AUP: signature lookup failed');
      })
      .finally(() => this.#lookups.delete(key));
    this.#lookups.set(key, lookup);
    return lookup;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}

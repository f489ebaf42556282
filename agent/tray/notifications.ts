// Which desktop notifications the tray shows, and in whose words: when a check turns to fail
// and when the USB guard stops or limits a device. Rate-limited so a flapping check or a pupil
// plugging a stick in and out does not bury the desktop: each subject at most once per
// `perSubjectMs`, and no more than `burst` notifications in any `windowMs`. Pure apart from the
// clock it is given; the main process shows what it returns with Electron's Notification.
import type { AgentStatus, CheckId, CheckResult, UsbDecision } from '../../shared/index.ts';

/** Whose words: pupils get what happened and that ICT know; staff also get what to do. */
export type AudienceRole = 'pupil' | 'staff';

/** One notification to show. */
export interface TrayNotification {
  /** What it is about: `check:<id>` or `usb:<vendor>:<product>:<serial>`. */
  subject: string;
  title: string;
  body: string;
  /** The check whose settings page a click may open (staff only), or null. */
  checkId: CheckId | null;
}

/** Limits; the defaults keep the desktop quiet. */
export interface NotificationLimits {
  perSubjectMs: number;
  burst: number;
  windowMs: number;
}

export const DEFAULT_NOTIFICATION_LIMITS: NotificationLimits = {
  perSubjectMs: 30 * 60_000,
  burst: 3,
  windowMs: 10 * 60_000,
};

/** Plain names of the checks, for titles. */
export const CHECK_NAMES: Record<CheckId, string> = {
  'disk-encryption': 'Disk encryption',
  antivirus: 'Anti-virus',
  'os-updates': 'Updates',
  firewall: 'Firewall',
  'screen-lock': 'Screen lock',
  'agent-health': 'Hallpass itself',
};

/** Longest body shown: device names come from the device and can be anything. */
const MAX_BODY = 300;

/** Decides notifications from successive statuses and pushes. */
export class NotificationPlanner {
  readonly #now: () => number;
  readonly #limits: NotificationLimits;
  #role: AudienceRole;
  /** Each check's status in the last status seen; null before the first. */
  #previous: Map<CheckId, CheckResult['status']> | null = null;
  readonly #lastBySubject = new Map<string, number>();
  #recent: number[] = [];

  constructor(options: {
    now: () => number;
    role?: AudienceRole;
    limits?: Partial<NotificationLimits>;
  }) {
    this.#now = options.now;
    this.#role = options.role ?? 'pupil';
    this.#limits = { ...DEFAULT_NOTIFICATION_LIMITS, ...options.limits };
  }

  /** Whose words to use from now (the AUP rules decide the role; pupil until they say). */
  setRole(role: AudienceRole): void {
    this.#role = role;
  }

  /**
   * Notifications for checks that turned to fail since the last status. The first status only
   * sets the baseline: a tray starting at login does not repeat what the status window shows.
   */
  fromStatus(status: AgentStatus): TrayNotification[] {
    const previous = this.#previous;
    this.#previous = new Map(status.results.map((r) => [r.checkId, r.status]));
    if (previous === null) {
      return [];
    }
    const out: TrayNotification[] = [];
    for (const result of status.results) {
      if (result.status === 'fail' && previous.get(result.checkId) !== 'fail') {
        const notification = this.#admit(checkNotification(result, this.#role));
        if (notification !== null) {
          out.push(notification);
        }
      }
    }
    return out;
  }

  /** A notification for a USB decision that stopped or limited a device; null otherwise. */
  fromUsbDecision(decision: UsbDecision): TrayNotification | null {
    const built = usbNotification(decision, this.#role);
    return built === null ? null : this.#admit(built);
  }

  #admit(notification: TrayNotification): TrayNotification | null {
    const now = this.#now();
    const last = this.#lastBySubject.get(notification.subject);
    if (last !== undefined && now - last < this.#limits.perSubjectMs && now >= last) {
      return null;
    }
    this.#recent = this.#recent.filter((at) => now - at < this.#limits.windowMs && at <= now);
    if (this.#recent.length >= this.#limits.burst) {
      return null;
    }
    this.#recent.push(now);
    this.#lastBySubject.set(notification.subject, now);
    // Subjects are bounded by checks and devices seen; forget old ones all the same.
    if (this.#lastBySubject.size > 500) {
      const oldest = this.#lastBySubject.keys().next().value;
      if (oldest !== undefined) {
        this.#lastBySubject.delete(oldest);
      }
    }
    return notification;
  }
}

/** A failing check in the role's words. */
export function checkNotification(result: CheckResult, role: AudienceRole): TrayNotification {
  const name = CHECK_NAMES[result.checkId];
  if (role === 'pupil') {
    return {
      subject: `check:${result.checkId}`,
      title: `${name}: something needs fixing`,
      body: cut(
        `${result.summary} You have not done anything wrong. Your school's ICT team can see this and will help.`,
      ),
      checkId: null,
    };
  }
  return {
    subject: `check:${result.checkId}`,
    title: `${name} check failed`,
    body: cut(`${result.summary} ${result.remediation ?? 'Open Hallpass to see what to do.'}`),
    checkId: result.checkId,
  };
}

/** A USB decision in the role's words, or null when the device was let through untouched. */
export function usbNotification(
  decision: UsbDecision,
  role: AudienceRole,
): TrayNotification | null {
  const { device } = decision;
  const subject = `usb:${device.vendorId}:${device.productId}:${device.serial ?? ''}`;
  const what = device.kind === 'mass-storage' ? 'USB storage' : 'phone or camera storage';
  // Device names are the device's own words: cut, and named as such, never as an instruction.
  const named = `"${device.name.slice(0, 60)}"`;
  let outcome: string;
  switch (decision.action) {
    case 'blocked':
      outcome = 'has been blocked';
      break;
    case 'read-only':
      outcome = 'can be read but not written to';
      break;
    case 'read-write':
    case 'left-alone':
      return null;
  }
  const title = decision.action === 'blocked' ? 'USB device blocked' : 'USB device is read-only';
  const why =
    decision.basis === 'approval-expired'
      ? 'Its approval has run out.'
      : "It is not on the school's approved list.";
  const next =
    role === 'pupil'
      ? 'Ask a member of staff or ICT if you need to use it.'
      : `To approve it, ask ICT to add vendor ${device.vendorId}, product ${device.productId}${device.serial === null ? '' : `, serial ${device.serial.slice(0, 40)}`}.`;
  return {
    subject,
    title,
    body: cut(`The ${what} ${named} ${outcome}. ${why} ${next}`),
    checkId: null,
  };
}

function cut(text: string): string {
  return text.length > MAX_BODY ? `${text.slice(0, MAX_BODY - 1)}…` : text;
}

// What the tray knows and what its windows may ask of it, in one plain module: the Electron main
// process wires it to ipcMain, the tray icon and Notification; the page tests wire the same
// module to Chromium through a test bridge. Every request from a window is validated here
// before anything happens, and a window can only name a check, never a URL or a command.
import { describeProblems, validate, type AgentStatus, type IpcPush } from '../../shared/index.ts';
import {
  TrayBridgeRequestSchema,
  type AupAnswer,
  type AupDecline,
  type AupSignature,
  type IdleWarningView,
  type TrayActionResult,
  type TrayInvokeChannels,
  type TrayPushChannel,
  type TrayPushChannels,
  type TrayRole,
  type TrayStatusChannel,
  type TrayView,
} from '../../shared/tray-bridge.ts';
import { iconView } from './icon-state.ts';
import { NotificationPlanner, type TrayNotification } from './notifications.ts';
import { remediationTarget, type OsName, type RemediationTarget } from './remediation-targets.ts';
import type { ConnectionState, ServiceClientListener } from './service-client.ts';

/** What the model needs from the service client. */
export interface ServiceRequester {
  request(body: { channel: TrayStatusChannel }): Promise<AgentStatus>;
}

/** What one model is built from. */
export interface TrayModelOptions {
  os: OsName;
  role?: TrayRole;
  now: () => number;
  /** Opens an OS settings page; the main process uses shell.openExternal or a fixed command. */
  openSettings(target: RemediationTarget): Promise<TrayActionResult>;
  /** Shows a desktop notification. */
  notify(notification: TrayNotification): void;
  /** Sends a push to every open window. */
  publish<C extends TrayPushChannel>(channel: C, value: TrayPushChannels[C]): void;
  /** The AUP window's requests (agent/tray/aup-prompt.ts); absent: refused. */
  aup?: {
    pending(): Promise<AupAnswer>;
    sign(signature: AupSignature): Promise<AupAnswer>;
    decline(document: AupDecline): Promise<AupAnswer>;
  };
}

const NO_AUP: AupAnswer = { ok: false, error: 'This Hallpass window cannot show the AUP.' };

/** The result type of any invoke channel. */
type AnyResult = TrayInvokeChannels[keyof TrayInvokeChannels]['result'];

/** The tray's state and its windows' requests. */
export class TrayModel {
  readonly #options: TrayModelOptions;
  readonly #planner: NotificationPlanner;
  #role: TrayRole;
  #connection: ConnectionState = 'connecting';
  #reason: string | null = null;
  #status: AgentStatus | null = null;
  #idle: IdleWarningView = { msLeft: null };
  #service: ServiceRequester | null = null;

  constructor(options: TrayModelOptions) {
    this.#options = options;
    this.#role = options.role ?? 'pupil';
    this.#planner = new NotificationPlanner({ now: options.now, role: this.#role });
  }

  /** The listener to give the service client. */
  readonly listener: ServiceClientListener = {
    state: (state, reason) => {
      this.#connection = state;
      this.#reason = state === 'unreachable' ? reason : null;
      this.#changed();
    },
    status: (status) => {
      this.#status = status;
      for (const notification of this.#planner.fromStatus(status)) {
        this.#options.notify(notification);
      }
      this.#changed();
    },
    push: (push: IpcPush) => {
      if (push.push !== 'usb:decision') {
        // aup:required is for the AUP window, not a notification.
        return;
      }
      const notification = this.#planner.fromUsbDecision(push.decision);
      if (notification !== null) {
        this.#options.notify(notification);
      }
    },
  };

  /** The client requests go to (built after the model, since it takes the model's listener). */
  attach(service: ServiceRequester): void {
    this.#service = service;
  }

  /** Whose words to use; the AUP rules decide, pupil until they do. */
  setRole(role: TrayRole): void {
    this.#role = role;
    this.#planner.setRole(role);
    this.#changed();
  }

  /** Shows, refreshes or (null) hides the idle warning in every window that listens. */
  setIdleWarning(msLeft: number | null): void {
    this.#idle = { msLeft };
    this.#options.publish('idle:warning', this.#idle);
  }

  /** What the windows show now. */
  view(): TrayView {
    const icon = iconView(this.#connection, this.#status);
    const settings =
      this.#role === 'staff' && this.#status !== null
        ? this.#status.results.flatMap((result) => {
            const target = remediationTarget(this.#options.os, result.checkId);
            return target === null ? [] : [{ checkId: result.checkId, label: target.label }];
          })
        : [];
    return {
      connection: this.#connection,
      reason: this.#reason,
      icon: icon.state,
      role: this.#role,
      status: this.#status,
      settings,
    };
  }

  /**
   * Answers one request from a window. Anything outside the channel map is refused with an
   * error the window sees; nothing it sends reaches the service or the OS unchecked.
   */
  async handle(request: unknown): Promise<AnyResult> {
    const checked = validate(TrayBridgeRequestSchema, request);
    if (!checked.ok) {
      throw new Error(`refused: ${describeProblems(checked.problems)}`);
    }
    const message = checked.value;
    switch (message.channel) {
      case 'status:get':
      case 'checks:run':
        return this.#forward(message.channel);
      case 'settings:open': {
        const [checkId] = message.args;
        if (this.#role !== 'staff') {
          return { ok: false, error: 'Only staff can open settings from Hallpass.' };
        }
        const target = remediationTarget(this.#options.os, checkId);
        if (target === null) {
          return { ok: false, error: 'There is no settings page for this on this computer.' };
        }
        return this.#options.openSettings(target);
      }
      case 'idle:get':
        return this.#idle;
      case 'aup:pending':
        return this.#options.aup?.pending() ?? NO_AUP;
      case 'aup:sign':
        return this.#options.aup?.sign(message.args[0]) ?? NO_AUP;
      case 'aup:decline':
        return this.#options.aup?.decline(message.args[0]) ?? NO_AUP;
    }
  }

  async #forward(channel: TrayStatusChannel): Promise<TrayView> {
    if (this.#service !== null && this.#connection === 'connected') {
      try {
        // The answer also reaches listener.status through the client.
        await this.#service.request({ channel });
      } catch {
        // The view says what went wrong (unreachable, or the service's own refusal is rare
        // enough that the last good status stands).
      }
    }
    return this.view();
  }

  #changed(): void {
    this.#options.publish('status:changed', this.view());
  }
}

// The channel map between the tray's windows (sandboxed renderers, untrusted pages) and its main
// process, exposed by the preload as `window.hallpass` (STYLE.md §7, Desktop's typed channel
// maps). The status channels are the service's own IPC channels (shared/schemas/ipc.ts) answered
// with what the tray makes of the service's status; the rest are the tray's. The main process
// validates every request with TrayBridgeRequestSchema before acting on it.
import { Type, type Static } from 'typebox';
import { CheckIdSchema, type CheckId } from './schemas/check-result.ts';
import {
  AupDeclineSchema,
  AupSignatureSchema,
  type AgentStatus,
  type AupDecline,
  type AupPending,
  type AupSignature,
  type IpcChannel,
} from './schemas/ipc.ts';

export type { AupDecline, AupSignature } from './schemas/ipc.ts';

/** Whose words the windows use; from the AUP rules, pupil until they say. */
export type TrayRole = 'pupil' | 'staff';

/** The tray icon's state. */
export type TrayIconState = 'compliant' | 'needs-attention' | 'not-compliant' | 'unreachable';

/** What a window shows about the device. */
export interface TrayView {
  connection: 'connecting' | 'connected' | 'unreachable';
  /** Why the service is unreachable, in words; null while connected. */
  reason: string | null;
  icon: TrayIconState;
  role: TrayRole;
  /** The service's last status (kept while unreachable, shown as such), or null. */
  status: AgentStatus | null;
  /** Checks with an OS settings page on this computer, with the button's words (staff only). */
  settings: { checkId: CheckId; label: string }[];
}

/** The idle warning: time left before the lock, or null when no warning shows. */
export interface IdleWarningView {
  msLeft: number | null;
}

/** The answer to an action that may fail. */
export type TrayActionResult = { ok: true } | { ok: false; error: string };

/** The AUP channels' answer: what is still to sign, or the service's refusal in words. */
export type AupAnswer = { ok: true; aup: AupPending } | { ok: false; error: string };

/** Requests a window may make, answered through `invoke`. */
export interface TrayInvokeChannels {
  'status:get': { args: []; result: TrayView };
  'checks:run': { args: []; result: TrayView };
  'settings:open': { args: [checkId: CheckId]; result: TrayActionResult };
  'idle:get': { args: []; result: IdleWarningView };
  // The AUP window's (ui/aup/): forwarded to the service's channels of the same names.
  'aup:pending': { args: []; result: AupAnswer };
  'aup:sign': { args: [signature: AupSignature]; result: AupAnswer };
  'aup:decline': { args: [document: AupDecline]; result: AupAnswer };
}

/** Pushes the main process sends to windows. */
export interface TrayPushChannels {
  'status:changed': TrayView;
  'idle:warning': IdleWarningView;
}

export type TrayInvokeChannel = keyof TrayInvokeChannels;
export type TrayPushChannel = keyof TrayPushChannels;

/**
 * The service channels a window reaches through the tray. The tray sends these on to the service
 * under the same names: if shared/schemas/ipc.ts renames one, this narrows and the tray's
 * forwarding stops compiling.
 */
export type TrayServiceChannel = Extract<TrayInvokeChannel, IpcChannel>;

/** The service channels that carry nothing but their name (the status ones). */
export type TrayStatusChannel = Extract<TrayServiceChannel, 'status:get' | 'checks:run'>;

/** What a request from a window must look like, whatever the page sent. */
export const TrayBridgeRequestSchema = Type.Union([
  Type.Object(
    { channel: Type.Literal('status:get'), args: Type.Tuple([]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('checks:run'), args: Type.Tuple([]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('settings:open'), args: Type.Tuple([CheckIdSchema]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('idle:get'), args: Type.Tuple([]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('aup:pending'), args: Type.Tuple([]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('aup:sign'), args: Type.Tuple([AupSignatureSchema]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { channel: Type.Literal('aup:decline'), args: Type.Tuple([AupDeclineSchema]) },
    { additionalProperties: false },
  ),
]);
export type TrayBridgeRequest = Static<typeof TrayBridgeRequestSchema>;

/** The names the preload exposes; the list the preload checks a channel against. */
export const TRAY_INVOKE_CHANNELS: readonly TrayInvokeChannel[] = [
  'status:get',
  'checks:run',
  'settings:open',
  'idle:get',
  'aup:pending',
  'aup:sign',
  'aup:decline',
];
export const TRAY_PUSH_CHANNELS: readonly TrayPushChannel[] = ['status:changed', 'idle:warning'];

/** `window.hallpass` as the preload exposes it and the pages use it. */
export interface HallpassBridge {
  invoke<C extends TrayInvokeChannel>(
    channel: C,
    ...args: TrayInvokeChannels[C]['args']
  ): Promise<TrayInvokeChannels[C]['result']>;
  /** Listens for a push; returns the unsubscribe. */
  on<C extends TrayPushChannel>(
    channel: C,
    listener: (value: TrayPushChannels[C]) => void,
  ): () => void;
}

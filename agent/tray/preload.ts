// The tray windows' preload: exposes `window.hallpass` (shared/tray-bridge.ts) and nothing else.
// Sandboxed preloads can require only a few of Electron's modules, so this file is bundled
// (scripts/build-tray.ts) and imports nothing at run time but `electron`; the channel lists are
// written here and checked against the shared channel map by the compiler (a channel in the map
// and not here, or here and not there, fails to build).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { AupPending } from '../../shared/schemas/ipc.ts';
import type {
  AupAnswer,
  AupDecline,
  AupSignature,
  HallpassBridge,
  TrayInvokeChannel,
  TrayPushChannel,
  TrayPushChannels,
} from '../../shared/tray-bridge.ts';
import { INVOKE_CHANNEL, PUSH_CHANNEL } from './bridge-ipc.ts';

const INVOKE: Record<TrayInvokeChannel, true> = {
  'status:get': true,
  'checks:run': true,
  'settings:open': true,
  'idle:get': true,
  'aup:pending': true,
  'aup:sign': true,
  'aup:decline': true,
};
const PUSH: Record<TrayPushChannel, true> = { 'status:changed': true, 'idle:warning': true };

const bridge: HallpassBridge = {
  invoke: (channel, ...args) => {
    if (!Object.hasOwn(INVOKE, channel)) {
      return Promise.reject(new Error(`refused: no channel ${channel}`));
    }
    // The page gets only the answer, never the IPC event or ipcRenderer itself.
    return ipcRenderer.invoke(INVOKE_CHANNEL, { channel, args }) as never;
  },
  on: <C extends TrayPushChannel>(channel: C, listener: (value: TrayPushChannels[C]) => void) => {
    if (!Object.hasOwn(PUSH, channel)) {
      throw new Error(`refused: no push ${channel}`);
    }
    const wrapped = (_event: IpcRendererEvent, name: unknown, value: unknown) => {
      if (name === channel) {
        listener(value as TrayPushChannels[C]);
      }
    };
    ipcRenderer.on(PUSH_CHANNEL, wrapped);
    return () => {
      ipcRenderer.removeListener(PUSH_CHANNEL, wrapped);
    };
  },
};

/** An AUP answer as the AUP window expects it: what is due, or a rejection with the reason. */
async function aupResult(answer: Promise<AupAnswer>): Promise<AupPending> {
  const settled = await answer;
  if (!settled.ok) {
    throw new Error(settled.error);
  }
  return settled.aup;
}

// The AUP window's surface (ui/aup/bridge.ts), over the same checked channels.
const aupBridge = {
  pending: () => aupResult(bridge.invoke('aup:pending')),
  sign: (signature: AupSignature) => aupResult(bridge.invoke('aup:sign', signature)),
  decline: (document: AupDecline) => aupResult(bridge.invoke('aup:decline', document)),
};

contextBridge.exposeInMainWorld('hallpass', bridge);
contextBridge.exposeInMainWorld('hallpassAup', aupBridge);

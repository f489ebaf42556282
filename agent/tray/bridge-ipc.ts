// The one Electron IPC channel each way between the tray's windows and its main process, shared
// by preload.ts and main.ts (the preload is bundled, so it may import this).

/** Requests from a window: `{ channel, args }`, validated by TrayModel.handle. */
export const INVOKE_CHANNEL = 'hallpass:invoke';
/** Pushes to windows: `(channel, value)`. */
export const PUSH_CHANNEL = 'hallpass:push';

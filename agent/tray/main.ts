// The tray's Electron main process, kept thin: it wires Electron to the plain modules beside it
// (service-client, tray-model, icon-state, notifications, remediation-targets, ui-files, the
// idle controller) and holds no decision of its own. Hardening follows Electron's security
// checklist (electronjs.org/docs/latest/tutorial/security): sandboxed renderers with context
// isolation and no Node, a strict CSP on a custom scheme, no remote content at all, navigation
// and new windows refused, every permission denied, IPC senders checked.
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  nativeImage,
  Notification,
  powerMonitor,
  protocol,
  session,
  shell,
  Tray,
  type IpcMainInvokeEvent,
} from 'electron';
import Store from 'electron-store';
import { readDefaultPolicy } from '../core/policy/policy-file.ts';
import { AupPrompt } from './aup-prompt.ts';
import { IdleLockController } from './idle/controller.ts';
import { IdleFailureReporter } from './idle/failure-report.ts';
import { idleLockTimings, idleLockViewTimings } from './idle/idle-lock.ts';
import { IdlePolicySync } from './idle/idle-policy-sync.ts';
import { osIdleDesktop } from './idle/os-desktop.ts';
import { serviceDisplayRequests } from './idle/windows.ts';
import { iconView } from './icon-state.ts';
import { iconPng } from './icon-images.ts';
import type { RemediationTarget } from './remediation-targets.ts';
import { ServiceClient } from './service-client.ts';
import { trayHandshake } from './service-handshake.ts';
import { sessionDesktop } from './session-desktop.ts';
import { TrayModel } from './tray-model.ts';
import { loadUiFile, TRAY_CSP } from './ui-files.ts';
import {
  mayNavigate,
  mayRequest,
  maySendIpc,
  pageUrl,
  SCHEME,
  windowOptions,
  type TrayPage,
} from './window-policy.ts';
import { INVOKE_CHANNEL, PUSH_CHANNEL } from './bridge-ipc.ts';
import type { TrayActionResult } from '../../shared/tray-bridge.ts';

/** Where the service listens; the installer's path, overridable for development. */
const IPC_PATH =
  process.env.HALLPASS_IPC ??
  (process.platform === 'win32' ? '\\\\.\\pipe\\hallpass' : '/run/hallpass/agent.sock');

/** The tray's own preferences: never a secret, never anything about the device. */
interface TrayPreferences {
  statusWindow: { width: number; height: number };
}

const osName =
  process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux';

// Before `ready`: the scheme behaves like https (standard, secure) so the CSP's 'self' means it.
protocol.registerSchemesAsPrivileged([
  { scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false } },
]);
app.enableSandbox();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('window-all-closed', () => {
    // The tray lives on with no window open.
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (navigation) => {
      if (!mayNavigate(navigation.url)) {
        navigation.preventDefault();
      }
    });
    contents.on('will-redirect', (navigation) => {
      navigation.preventDefault();
    });
    contents.on('will-attach-webview', (attach) => {
      attach.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  void app.whenReady().then(start);
}

async function start(): Promise<void> {
  const preferences = new Store<TrayPreferences>({
    name: 'tray-preferences',
    defaults: { statusWindow: { width: 560, height: 680 } },
    schema: {
      statusWindow: {
        type: 'object',
        properties: {
          width: { type: 'integer', minimum: 320, maximum: 4000 },
          height: { type: 'integer', minimum: 320, maximum: 4000 },
        },
        required: ['width', 'height'],
        additionalProperties: false,
      },
    },
    clearInvalidConfig: true,
  });

  const uiDir = path.join(app.getAppPath(), 'ui');
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'ui' ? await loadUiFile(url.pathname.slice(1), uiDir) : null;
    const headers = { 'content-security-policy': TRAY_CSP, 'x-content-type-options': 'nosniff' };
    return file === null
      ? new Response('not found', { status: 404, headers })
      : new Response(file.body, { headers: { ...headers, 'content-type': file.contentType } });
  });

  for (const s of [session.defaultSession]) {
    s.setPermissionRequestHandler((_contents, _permission, callback) => {
      callback(false);
    });
    s.setPermissionCheckHandler(() => false);
    // No remote content: the windows load only the tray's own scheme.
    s.webRequest.onBeforeRequest((details, callback) => {
      callback({
        cancel: !mayRequest(details.url),
      });
    });
  }

  const windows = new Map<string, BrowserWindow>();
  const model = new TrayModel({
    os: osName,
    now: () => Date.now(),
    openSettings,
    notify: (notification) => {
      if (Notification.isSupported()) {
        const shown = new Notification({ title: notification.title, body: notification.body });
        shown.on('click', () => {
          openWindow('status');
        });
        shown.show();
      }
    },
    // The AUP window's requests go through the prompt, built with the client below.
    aup: {
      pending: () => aupPrompt.pending(),
      sign: (signature) => aupPrompt.sign(signature),
      decline: (document) => aupPrompt.decline(document),
    },
    publish: (channel, value) => {
      for (const window of windows.values()) {
        window.webContents.send(PUSH_CHANNEL, channel, value);
      }
      if (channel === 'status:changed') {
        refreshTray();
      }
    },
  });

  ipcMain.handle(INVOKE_CHANNEL, (event: IpcMainInvokeEvent, request: unknown) => {
    // Only our own pages may ask (Electron security checklist: validate the sender).
    if (!maySendIpc(event.senderFrame?.url)) {
      throw new Error('refused: not a Hallpass window');
    }
    return model.handle(request);
  });

  // The idle lock runs on the policy the service resolves for this user (idle:policy), asked
  // when the tray connects and when the policy changes; the built-in default until then.
  let idle: IdleLockController | null = null;
  const idleSync = new IdlePolicySync({
    ask: async () => {
      const { idleLock } = await client.answer({ channel: 'idle:policy' });
      if (idleLock === undefined) {
        throw new Error('the service sent no idle-lock policy');
      }
      return idleLock;
    },
    apply: (timings) => {
      idle?.setTimings(timings);
    },
    failed: (reason) => {
      console.warn(`idle lock: keeping the policy it has; the service did not give one: ${reason}`);
    },
  });
  // A failing idle lock goes to the service (idle.lock-failed for ICT), not only to this log.
  const idleFailures = new IdleFailureReporter({
    send: (request) => client.request(request),
    log: (message) => {
      console.warn(message);
    },
  });
  const client = new ServiceClient({
    path: IPC_PATH,
    listener: {
      state: (state, reason) => {
        model.listener.state(state, reason);
        idleSync.connection(state);
        if (state === 'connected') {
          // At login, and whenever the service comes back: anything to sign opens the window.
          void aupPrompt.connected();
          void idleFailures.connected();
        }
      },
      status: (status) => {
        model.listener.status(status);
        idleSync.status(status);
      },
      push: (push) => {
        model.listener.push(push);
        if (push.push === 'aup:required') {
          aupPrompt.required(push.aup);
        }
      },
    },
    // Proves this user to the service and says hello, before any request on each connection.
    onConnect: trayHandshake(osName, IPC_PATH, process.env.ProgramData),
  });
  model.attach(client);
  const aupPrompt = new AupPrompt({
    service: client,
    open: () => {
      openWindow('aup');
    },
    problem: (what) => {
      console.warn(`AUP: ${what}`);
    },
    // Staff or pupil wording in notifications and windows, as the AUP rules say.
    role: (role) => {
      model.setRole(role);
    },
  });
  client.start();

  const tray = new Tray(nativeImage.createFromBuffer(iconPng('unreachable')));
  function refreshTray(): void {
    const view = model.view();
    const icon = iconView(view.connection, view.status);
    tray.setImage(nativeImage.createFromBuffer(iconPng(icon.state)));
    tray.setToolTip(icon.tooltip);
    tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: icon.tooltip.replace(/^Hallpass: /, ''), enabled: false },
        { type: 'separator' },
        {
          label: 'Show status…',
          click: () => {
            openWindow('status');
          },
        },
        {
          label: 'Check now',
          enabled: view.connection === 'connected',
          click: () => {
            void model.handle({ channel: 'checks:run', args: [] });
          },
        },
        {
          label: 'What Hallpass collects…',
          click: () => {
            openWindow('collects');
          },
        },
        { label: 'About Hallpass…', click: showAbout },
      ]),
    );
  }
  refreshTray();
  tray.on('click', () => {
    openWindow('status');
  });

  function openWindow(page: TrayPage): void {
    const open = windows.get(page);
    if (open !== undefined && !open.isDestroyed()) {
      open.show();
      open.focus();
      return;
    }
    const size = preferences.get('statusWindow');
    const window = new BrowserWindow(
      windowOptions(page, size, path.join(import.meta.dirname, 'preload.cjs')),
    );
    window.setMenuBarVisibility(false);
    if (page === 'aup') {
      // Above full-screen applications too; and back at once if the OS minimises it anyway.
      window.setAlwaysOnTop(true, 'screen-saver');
      window.on('minimize', () => {
        window.restore();
      });
    }
    windows.set(page, window);
    window.on('closed', () => {
      windows.delete(page);
      if (page === 'aup') {
        // Closed unsigned counts as declined (aup-prompt.ts).
        void aupPrompt.closed();
      }
    });
    if (page === 'status') {
      window.on('resized', () => {
        const [width = 560, height = 680] = window.getSize();
        preferences.set('statusWindow', { width, height });
      });
    }
    window.once('ready-to-show', () => {
      window.show();
    });
    void window.loadURL(pageUrl(page));
  }

  function showAbout(): void {
    const status = model.view().status;
    void dialog.showMessageBox({
      type: 'info',
      title: 'About Hallpass',
      message: `Hallpass ${status?.agentVersion ?? app.getVersion()}`,
      detail:
        'Hallpass checks that this school computer is safe to use and tells the school’s ICT ' +
        'team. It never collects your files, websites, typing or screen.',
    });
  }

  // The built-in default policy locks; the service's answer replaces it (idleSync above).
  const policy = await readDefaultPolicy();
  const fromService = idleSync.current();
  // Windows' display power requests come from the service, which may run powercfg.
  const osDesktop = await osIdleDesktop(
    process.platform,
    sessionEnvironment(),
    undefined,
    serviceDisplayRequests((body) => client.answer(body)),
  );
  if (!osDesktop.ok) {
    void idleFailures.noDesktop(`no desktop for this OS: ${osDesktop.reason}`);
  }
  idle = new IdleLockController({
    desktop: sessionDesktop(
      () => powerMonitor.getSystemIdleTime(),
      osDesktop.ok ? osDesktop.desktop : null,
      process.env.XDG_SESSION_TYPE === 'wayland',
      osDesktop.ok ? undefined : osDesktop.reason,
    ),
    timings:
      fromService === null
        ? idleLockTimings(policy.idleLock, null)
        : idleLockViewTimings(fromService),
    now: () => Date.now(),
    timers: {
      setTimeout: (task, ms) => setTimeout(task, ms),
      clearTimeout: (handle) => {
        clearTimeout(handle as NodeJS.Timeout);
      },
    },
    listener: {
      warning: (msLeft) => {
        model.setIdleWarning(msLeft);
        if (msLeft === null) {
          windows.get('idle-warning')?.close();
        } else if (!windows.has('idle-warning')) {
          // Opened once per warning; the countdown then comes as pushes, without taking the
          // focus again every second.
          openWindow('idle-warning');
        }
      },
      locked: () => {
        void client
          .request({
            channel: 'idle:locked',
            idleSeconds: Math.round(powerMonitor.getSystemIdleTime()),
          })
          .catch(() => undefined);
      },
      lockFailed: (attempts, locked) => {
        void idleFailures.lockFailed(attempts, locked);
      },
      readingFailed: (what, reason) => {
        void idleFailures.readingFailed(what, reason);
      },
    },
  });
  const running = idle;
  powerMonitor.on('resume', () => {
    running.resumed();
  });
  running.start();
  app.on('before-quit', () => {
    client.stop();
    void running.stop().then(() => {
      if (osDesktop.ok) {
        osDesktop.stop();
      }
    });
  });
}

/** Opens a settings page: a URI through the OS, or a fixed command with fixed arguments. */
async function openSettings(target: RemediationTarget): Promise<TrayActionResult> {
  if (target.kind === 'uri') {
    try {
      await shell.openExternal(target.uri);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: `Could not open settings: ${String(error)}` };
    }
  }
  return new Promise((resolve) => {
    const child = execFile(target.command, [...target.args], { timeout: 10_000 }, () => undefined);
    child.once('spawn', () => {
      child.unref();
      resolve({ ok: true });
    });
    child.once('error', (error) => {
      resolve({ ok: false, error: `Could not open settings: ${error.message}` });
    });
  });
}

/** What the Linux desktop's commands need from this session. */
function sessionEnvironment(): Record<string, string> {
  const keep = [
    'DISPLAY',
    'XAUTHORITY',
    'DBUS_SESSION_BUS_ADDRESS',
    'XDG_SESSION_ID',
    'XDG_RUNTIME_DIR',
    'WAYLAND_DISPLAY',
  ];
  return Object.fromEntries(
    keep.flatMap((key) => {
      const value = process.env[key];
      return value === undefined ? [] : [[key, value]];
    }),
  );
}

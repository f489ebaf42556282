// The guard's own behaviour, with an in-memory UsbPlatform as the OS: which action each device
// gets, the events and pushes, re-judging on policy change, expiry and console user, and a
// platform that refuses or a watch that breaks. The real kernel is tested in QEMU elsewhere.
import { describe, expect, it } from 'vitest';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyCache } from '../../../agent/core/policy/policy-cache.ts';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import type {
  AttachedUsbStorage,
  UsbEnforcement,
  UsbPlatform,
  UsbWatchHandlers,
} from '../../../agent/core/usb/platform.ts';
import { usbDevice } from '../../../agent/core/usb/sanitize.ts';
import { UsbGuard } from '../../../agent/service/usb-guard.ts';
import {
  AgentEventSchema,
  validate,
  type AgentEvent,
  type Policy,
  type UsbDecision,
  type UsbPolicy,
} from '../../../shared/index.ts';
import { ManualClock, settle } from '../../helpers/manual-clock.ts';

const MINUTE = 60_000;

/** The OS stand-in: devices attached, what was applied, and switches to make it fail. */
class MemoryPlatform implements UsbPlatform {
  readonly devices = new Map<string, AttachedUsbStorage>();
  readonly applied = new Map<string, UsbEnforcement>();
  readonly calls: string[] = [];
  failClosedAnswer: string | null = null;
  rejectApply: string | null = null;
  watchThrows = false;
  listFails: string | null = null;
  hangInstall = false;
  handlers: UsbWatchHandlers | null = null;
  watchStarts = 0;

  /** portableMediaIsStorage of each policy the fail-closed default was installed for. */
  readonly installedFor: (boolean | undefined)[] = [];

  installFailClosedDefault(policy?: UsbPolicy): Promise<string | null> {
    this.calls.push('install');
    this.installedFor.push(policy?.portableMediaIsStorage);
    if (this.hangInstall) {
      return new Promise(() => undefined);
    }
    return Promise.resolve(this.failClosedAnswer);
  }
  listAttached(): Promise<AttachedUsbStorage[]> {
    this.calls.push('list');
    if (this.listFails !== null) {
      return Promise.reject(new Error(this.listFails));
    }
    return Promise.resolve([...this.devices.values()]);
  }
  watch(handlers: UsbWatchHandlers): { stop(): Promise<void> } {
    this.watchStarts++;
    if (this.watchThrows) {
      throw new Error('udevadm: not found');
    }
    this.handlers = handlers;
    return {
      stop: () => {
        if (this.handlers === handlers) {
          this.handlers = null;
        }
        return Promise.resolve();
      },
    };
  }
  apply(storage: AttachedUsbStorage, action: UsbEnforcement): Promise<void> {
    this.calls.push(`apply ${storage.key} ${action}`);
    if (this.rejectApply !== null) {
      return Promise.reject(new Error(this.rejectApply));
    }
    this.applied.set(storage.key, action);
    return Promise.resolve();
  }
  plug(storage: AttachedUsbStorage): void {
    this.devices.set(storage.key, storage);
    this.handlers?.attached(storage);
  }
  unplug(key: string): void {
    this.devices.delete(key);
    this.applied.delete(key);
    this.handlers?.detached(key);
  }
}

const stick = (key: string, serial: string | null, over: Partial<AttachedUsbStorage> = {}) => ({
  key,
  device: {
    vendorId: '0781',
    productId: '5581',
    serial,
    name: `SanDisk Ultra ${serial ?? ''}`.trim(),
    kind: 'mass-storage' as const,
  },
  systemDisk: false,
  ...over,
});

const basePolicy = await readDefaultPolicy();

function withUsb(usb: Partial<UsbPolicy>): Policy {
  return { ...basePolicy, usb: { ...basePolicy.usb, ...usb } };
}

async function setup(
  options: {
    usb?: Partial<UsbPolicy>;
    attached?: AttachedUsbStorage[];
    platform?: MemoryPlatform | null;
    user?: ConsoleUser | null;
  } = {},
) {
  const clock = new ManualClock('2026-11-23T09:00:00.000Z');
  const platform = options.platform === undefined ? new MemoryPlatform() : options.platform;
  for (const storage of options.attached ?? []) {
    platform?.devices.set(storage.key, storage);
  }
  let policy = withUsb({ mode: 'block', ...options.usb });
  const listeners = new Set<(p: Policy) => void>();
  const user = { current: options.user === undefined ? null : options.user, reads: 0 };
  const events: AgentEvent[] = [];
  const pushes: UsbDecision[] = [];
  const logged: string[] = [];
  const log = {
    info: () => undefined,
    warn: (_d: Record<string, unknown>, message: string) => logged.push(message),
    error: (_d: Record<string, unknown>, message: string) => logged.push(message),
  };
  const guard = new UsbGuard({
    platform,
    unavailable: 'no USB enforcement for this OS in this build',
    policy: {
      current: () => policy,
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    consoleUser: {
      current: () => {
        user.reads++;
        return Promise.resolve(user.current);
      },
    },
    recordEvent: (event) => {
      const checked = validate(AgentEventSchema, event);
      if (!checked.ok) {
        throw new Error(`invalid event ${JSON.stringify(checked.problems)}`);
      }
      events.push(event);
      return Promise.resolve();
    },
    push: (decision) => pushes.push(decision),
    log,
    now: clock.now,
    timers: clock.timers,
  });
  await guard.start();
  const setPolicy = async (usb: Partial<UsbPolicy>) => {
    policy = withUsb({ ...policy.usb, ...usb });
    for (const listener of listeners) {
      listener(policy);
    }
    await settle();
    await guard.settled();
  };
  const applied = (key: string) => platform?.applied.get(key);
  const usbEvents = () =>
    events.flatMap((e) =>
      e.type === 'usb.blocked' || e.type === 'usb.allowed'
        ? [[e.type, e.data.device.serial, e.data.action, e.data.basis, e.data.count] as const]
        : [],
    );
  return { clock, platform, guard, events, usbEvents, pushes, logged, setPolicy, applied, user };
}

const approved = { vendorId: '0781', productId: '5581', serial: 'GOOD', description: 'Exam' };

describe('UsbGuard', () => {
  it('makes storage fail closed, then judges what is already attached', async () => {
    const t = await setup({
      usb: { allow: [{ ...approved, approvalId: 'apr-1' }] },
      attached: [
        stick('1-1', 'GOOD'),
        stick('1-2', 'UNKNOWN'),
        stick('2-1', 'ROOTFS', { systemDisk: true }),
      ],
    });
    expect(t.platform?.calls.slice(0, 2)).toEqual(['install', 'list']);
    expect(t.applied('1-1')).toBe('read-write');
    expect(t.applied('1-2')).toBe('block');
    // The system disk is never touched.
    expect(t.applied('2-1')).toBeUndefined();
    expect(t.usbEvents()).toEqual([
      ['usb.allowed', 'GOOD', 'read-write', 'approved', 1],
      ['usb.blocked', 'UNKNOWN', 'blocked', 'not-approved', 1],
      ['usb.allowed', 'ROOTFS', 'left-alone', 'system-disk', 1],
    ]);
    expect(t.pushes.map((d) => d.device.serial)).toEqual(['GOOD', 'UNKNOWN', 'ROOTFS']);
    const status = t.guard.status();
    expect(status.problem).toBeNull();
    expect(status.mode).toBe('block');
    expect(status.recent.map((d) => [d.device.serial, d.approvalId])).toEqual([
      ['ROOTFS', null],
      ['UNKNOWN', null],
      ['GOOD', 'apr-1'],
    ]);
    await t.guard.stop();
  });

  it('judges and reports a stick with hostile strings safely (valid events, no crash)', async () => {
    const t = await setup();
    const device = usbDevice({
      vendorId: '0x0781',
      productId: '5581',
      serial: new Uint8Array([
        0x1b,
        0x5b,
        0x32,
        0x4a,
        0xff,
        0xfe,
        ...new Array<number>(10_000).fill(0x41),
      ]),
      manufacturer: '\u202eEvil\u0000Corp',
      product: 'x'.repeat(10_000),
      kind: 'mass-storage',
    });
    if (device === null) {
      throw new Error('ids should parse');
    }
    t.platform?.plug({ key: '1-7', device, systemDisk: false });
    await settle();
    await t.guard.settled();
    expect(t.applied('1-7')).toBe('block');
    // recordEvent validated the event against the schema (setup throws otherwise).
    expect(t.events).toHaveLength(1);
    expect(t.pushes[0]?.device.serial?.startsWith('\\x1b[2J\u{fffd}\u{fffd}')).toBe(true);
    expect(t.pushes[0]?.device.name.length).toBeLessThanOrEqual(200);
    await t.guard.stop();
  });

  it('judges arrivals, forgets removals, and folds a stick plugged again and again', async () => {
    const t = await setup({ user: { name: 'pupil.0042', groups: ['pupils'] } });
    for (let i = 0; i < 20; i++) {
      t.platform?.plug(stick('1-3', 'PUPIL'));
      await settle();
      expect(t.applied('1-3')).toBe('block');
      t.platform?.unplug('1-3');
      await settle();
    }
    await t.guard.settled();
    expect(t.usbEvents()).toEqual([['usb.blocked', 'PUPIL', 'blocked', 'not-approved', 1]]);
    expect(t.pushes).toHaveLength(20);
    expect(t.guard.status().recent[0]).toMatchObject({ user: 'pupil.0042', mode: 'block' });
    await t.clock.advance(10 * MINUTE);
    expect(t.usbEvents().at(-1)).toEqual(['usb.blocked', 'PUPIL', 'blocked', 'not-approved', 19]);
    await t.guard.stop();
  });

  it('judges a card reader of another class by its USB ids once its disk was removed, and again each time', async () => {
    // What LinuxUsbPlatform reports when the rule removed the disk of a Realtek RTS5129 (vendor
    // class ff): the USB device's ids and serial, kind mass-storage, the same key again for
    // each disk the rule removes while it stays plugged.
    const reader = (serial: string) =>
      stick('1-5', serial, {
        device: {
          vendorId: '0bda',
          productId: '0129',
          serial,
          name: 'Generic USB2.0-CRW',
          kind: 'mass-storage',
        },
      });
    const t = await setup({ usb: { mode: 'block' } });
    t.platform?.plug(reader('20100201396000000'));
    await settle();
    await t.guard.settled();
    expect(t.applied('1-5')).toBe('block');
    t.platform?.plug(reader('20100201396000000'));
    await settle();
    await t.guard.settled();
    expect(t.pushes.map((d) => [d.device.productId, d.action, d.basis])).toEqual([
      ['0129', 'blocked', 'not-approved'],
      ['0129', 'blocked', 'not-approved'],
    ]);
    expect(t.usbEvents()).toEqual([
      ['usb.blocked', '20100201396000000', 'blocked', 'not-approved', 1],
    ]);
    // An approval of the model applies to it like to any stick; read-only mode holds the rest.
    await t.setPolicy({
      mode: 'read-only',
      allow: [{ vendorId: '0BDA', productId: '0129', description: 'Staff card readers' }],
    });
    expect(t.applied('1-5')).toBe('read-write');
    t.platform?.plug({ ...reader('OTHER'), key: '1-6' });
    await settle();
    await t.guard.settled();
    expect(t.applied('1-6')).toBe('read-write');
    await t.setPolicy({ allow: [] });
    expect(t.applied('1-5')).toBe('read-only');
    expect(t.applied('1-6')).toBe('read-only');
    await t.guard.stop();
  });

  it('re-judges attached devices at once when the policy changes', async () => {
    const t = await setup({ attached: [stick('1-1', 'GOOD'), stick('1-2', 'OTHER')] });
    expect(t.applied('1-1')).toBe('block');
    await t.setPolicy({ allow: [approved] });
    expect(t.applied('1-1')).toBe('read-write');
    expect(t.applied('1-2')).toBe('block');
    await t.setPolicy({ mode: 'read-only' });
    expect(t.applied('1-2')).toBe('read-only');
    expect(t.applied('1-1')).toBe('read-write');
    await t.setPolicy({ mode: 'allow' });
    expect(t.applied('1-2')).toBe('read-write');
    expect(t.usbEvents()).toEqual([
      ['usb.blocked', 'GOOD', 'blocked', 'not-approved', 1],
      ['usb.blocked', 'OTHER', 'blocked', 'not-approved', 1],
      ['usb.allowed', 'GOOD', 'read-write', 'approved', 1],
      ['usb.blocked', 'OTHER', 'read-only', 'not-approved', 1],
      // Mode allow reports nothing.
    ]);
    await t.guard.stop();
  });

  it('installs the fail-closed default again when portable media start or stop counting as storage', async () => {
    const base = stick('1-3', 'PHONE1');
    const phone = { ...base, device: { ...base.device, kind: 'portable-media' as const } };
    const t = await setup({ attached: [phone], usb: { portableMediaIsStorage: false } });
    expect(t.platform?.installedFor).toEqual([false]);
    expect(t.applied('1-3')).toBeUndefined();
    await t.setPolicy({ portableMediaIsStorage: true });
    expect(t.platform?.installedFor).toEqual([false, true]);
    expect(t.applied('1-3')).toBe('block');
    // A change that leaves it as it was installs nothing again.
    await t.setPolicy({ mode: 'read-only' });
    expect(t.platform?.installedFor).toEqual([false, true]);
    expect(t.applied('1-3')).toBe('read-only');
    await t.setPolicy({ portableMediaIsStorage: false });
    expect(t.platform?.installedFor).toEqual([false, true, false]);
    expect(t.applied('1-3')).toBe('read-write');
    await t.guard.stop();
  });

  it('re-judges when the real policy cache accepts a policy from the server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-guard-policy-'));
    try {
      const { cache } = await PolicyCache.open(dir);
      const platform = new MemoryPlatform();
      platform.devices.set('1-1', stick('1-1', 'GOOD'));
      const guard = new UsbGuard({
        platform,
        unavailable: '',
        policy: cache,
        consoleUser: { current: () => Promise.resolve(null) },
        recordEvent: () => Promise.resolve(),
        push: () => undefined,
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
        now: () => new Date('2026-11-23T09:00:00.000Z'),
        timers: new ManualClock('2026-11-23T09:00:00.000Z').timers,
      });
      await guard.start();
      // The default policy audits: allowed by mode.
      expect(platform.applied.get('1-1')).toBe('read-write');
      const blocking = withUsb({ mode: 'block' });
      await cache.offer(JSON.stringify(blocking), '"v1"');
      await guard.settled();
      expect(platform.applied.get('1-1')).toBe('block');
      await cache.offer(JSON.stringify(withUsb({ mode: 'block', allow: [approved] })), '"v2"');
      await guard.settled();
      expect(platform.applied.get('1-1')).toBe('read-write');
      expect(guard.status().recent[0]).toMatchObject({ basis: 'approved', mode: 'block' });
      await guard.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('blocks a stick when its approval expires, on its own clock', async () => {
    const t = await setup({
      usb: { allow: [{ ...approved, expiresAt: '2026-11-23T09:30:00.000Z' }] },
      attached: [stick('1-1', 'GOOD')],
    });
    expect(t.applied('1-1')).toBe('read-write');
    expect(t.clock.nextAt()?.toISOString()).toBe('2026-11-23T09:01:00.000Z');
    await t.clock.advance(29 * MINUTE + 59_999);
    expect(t.applied('1-1')).toBe('read-write');
    await t.clock.advance(1);
    await t.guard.settled();
    expect(t.applied('1-1')).toBe('block');
    expect(t.guard.status().recent[0]).toMatchObject({
      action: 'blocked',
      basis: 'approval-expired',
      at: '2026-11-23T09:30:00.000Z',
    });
    await t.guard.stop();
  });

  it('notices an expiry within a poll when the wall clock jumps past it', async () => {
    const t = await setup({
      usb: { allow: [{ ...approved, expiresAt: '2026-11-24T09:00:00.000Z' }] },
      attached: [stick('1-1', 'GOOD')],
    });
    // The device's clock is corrected by a day; the expiry timer (monotonic) is far off.
    t.clock.set('2026-11-24T09:00:30.000Z');
    await t.clock.advance(MINUTE);
    await t.guard.settled();
    expect(t.applied('1-1')).toBe('block');
    await t.guard.stop();
  });

  it('re-judges when the console user changes (exempt staff signs in, then signs out)', async () => {
    const t = await setup({
      usb: { exempt: { users: [], groups: ['staff'] } },
      attached: [stick('1-1', 'TEACHER')],
    });
    expect(t.applied('1-1')).toBe('block');
    t.user.current = { name: 'j.smith', groups: ['staff'] };
    await t.clock.advance(MINUTE);
    await t.guard.settled();
    expect(t.applied('1-1')).toBe('read-write');
    expect(t.guard.status().recent[0]).toMatchObject({ basis: 'exempt', user: 'j.smith' });
    t.user.current = null;
    await t.clock.advance(MINUTE);
    await t.guard.settled();
    expect(t.applied('1-1')).toBe('block');
    await t.guard.stop();
  });

  it('asks who is at the console each minute only while that could change a verdict', async () => {
    // Each question spawns loginctl or PowerShell: an idle guard with nobody exempt asks none.
    const quiet = await setup({ attached: [stick('1-1', 'ANY')] });
    const before = quiet.user.reads;
    await quiet.clock.advance(10 * MINUTE);
    await quiet.guard.settled();
    expect(quiet.user.reads).toBe(before);
    await quiet.guard.stop();

    const exempting = await setup({
      usb: { exempt: { users: ['j.smith'], groups: [] } },
      attached: [stick('1-1', 'ANY')],
    });
    const start = exempting.user.reads;
    await exempting.clock.advance(10 * MINUTE);
    await exempting.guard.settled();
    expect(exempting.user.reads - start).toBe(10);
    await exempting.guard.stop();
  });

  it('carries on when the platform refuses an action, shows it, and retries next time', async () => {
    const platform = new MemoryPlatform();
    platform.rejectApply = 'EACCES: /sys/bus/usb/devices/1-1/authorized';
    const t = await setup({ platform, attached: [stick('1-1', 'X')] });
    expect(t.guard.status().problem).toMatch(
      /could not make SanDisk Ultra X \(0781:5581\) block: EACCES/,
    );
    expect(t.logged).toContain('USB guard: the OS refused an action');
    platform.plug(stick('1-2', 'Y'));
    await settle();
    await t.guard.settled();
    expect(t.guard.status().recent.map((d) => d.device.serial)).toEqual(['Y', 'X']);
    platform.rejectApply = null;
    await t.setPolicy({ mode: 'read-only' });
    expect(platform.applied.get('1-1')).toBe('read-only');
    expect(platform.applied.get('1-2')).toBe('read-only');
    expect(t.guard.status().problem).toBeNull();
    await t.guard.stop();
  });

  it('restarts a failed watch with back-off and judges what arrived meanwhile', async () => {
    const t = await setup();
    const platform = t.platform as MemoryPlatform;
    expect(platform.watchStarts).toBe(1);
    platform.watchThrows = true;
    platform.handlers?.failed(new Error('udevadm monitor exited (code 1)'));
    expect(t.guard.status().problem).toBe(
      'watching for USB devices failed (udevadm monitor exited (code 1)); retrying in 1 s',
    );
    await t.clock.advance(1000);
    expect(platform.watchStarts).toBe(2);
    expect(t.guard.status().problem).toMatch(/udevadm: not found\); retrying in 2 s/);
    await t.clock.advance(2000);
    expect(platform.watchStarts).toBe(3);
    expect(t.guard.status().problem).toMatch(/retrying in 4 s/);
    // The OS comes back; a stick plugged while nobody watched is found by the listing.
    platform.watchThrows = false;
    platform.devices.set('1-4', stick('1-4', 'MISSED'));
    await t.clock.advance(4000);
    await t.guard.settled();
    expect(platform.watchStarts).toBe(4);
    expect(platform.applied.get('1-4')).toBe('block');
    expect(t.guard.status().problem).toBeNull();
    // Reports from the new watch count again.
    platform.plug(stick('1-5', 'NEW'));
    await settle();
    await t.guard.settled();
    expect(platform.applied.get('1-5')).toBe('block');
    await t.guard.stop();
  });

  it('stops a watch that failed before watch() returned, and restarts it', async () => {
    const platform = new MemoryPlatform();
    const stopped: number[] = [];
    const watch = platform.watch.bind(platform);
    platform.watch = (handlers) => {
      const started = watch(handlers);
      const id = platform.watchStarts;
      if (id === 1) {
        handlers.failed(new Error('spawn udevadm EAGAIN'));
      }
      return {
        stop: async () => {
          stopped.push(id);
          await started.stop();
        },
      };
    };
    const t = await setup({ platform });
    expect(stopped).toEqual([1]);
    await t.clock.advance(1000);
    expect(platform.watchStarts).toBe(2);
    expect(t.guard.status().problem).toBeNull();
    await t.guard.stop();
    expect(stopped).toEqual([1, 2]);
  });

  it('says why in status when this OS has no enforcement, and never throws', async () => {
    const t = await setup({ platform: null });
    expect(t.guard.status()).toEqual({
      mode: 'block',
      problem: 'no USB enforcement for this OS in this build',
      recent: [],
    });
    await t.guard.stop();
  });

  it('says so when the OS cannot fail closed, and still enforces while running', async () => {
    const platform = new MemoryPlatform();
    platform.failClosedAnswer =
      'macOS: storage cannot be blocked before mount without an ES extension';
    const t = await setup({ platform, attached: [stick('1-1', 'X')] });
    expect(t.guard.status().problem).toBe(platform.failClosedAnswer);
    expect(platform.applied.get('1-1')).toBe('block');
    await t.guard.stop();
  });

  it('lists again each minute after a listing failed, and then judges what is attached', async () => {
    const platform = new MemoryPlatform();
    platform.listFails = 'EIO: /sys/bus/usb/devices';
    const t = await setup({ platform, attached: [stick('1-1', 'X')] });
    expect(t.guard.status().problem).toBe('could not list USB storage: EIO: /sys/bus/usb/devices');
    expect(platform.applied.get('1-1')).toBeUndefined();
    platform.listFails = null;
    await t.clock.advance(MINUTE);
    await t.guard.settled();
    expect(platform.applied.get('1-1')).toBe('block');
    expect(t.guard.status().problem).toBeNull();
    await t.guard.stop();
  });

  it('stops cleanly while the OS never finishes installing the fail-closed default', async () => {
    const platform = new MemoryPlatform();
    platform.hangInstall = true;
    const guard = new UsbGuard({
      platform,
      unavailable: '',
      policy: { current: () => withUsb({ mode: 'block' }), onChange: () => () => undefined },
      consoleUser: { current: () => Promise.resolve(null) },
      recordEvent: () => Promise.resolve(),
      push: () => undefined,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      now: () => new Date('2026-11-23T09:00:00.000Z'),
      timers: new ManualClock('2026-11-23T09:00:00.000Z').timers,
    });
    void guard.start();
    await settle();
    await guard.stop();
    expect(platform.calls).toEqual(['install']);
    expect(platform.watchStarts).toBe(0);
  });

  it('sends folded counts on stop and applies nothing after it', async () => {
    const t = await setup();
    const platform = t.platform as MemoryPlatform;
    for (let i = 0; i < 3; i++) {
      platform.plug(stick('1-1', 'AGAIN'));
      await settle();
      platform.unplug('1-1');
      await settle();
    }
    const handlers = platform.handlers;
    await t.guard.stop();
    expect(t.usbEvents()).toEqual([
      ['usb.blocked', 'AGAIN', 'blocked', 'not-approved', 1],
      ['usb.blocked', 'AGAIN', 'blocked', 'not-approved', 2],
    ]);
    handlers?.attached(stick('1-9', 'LATE'));
    await settle();
    expect(platform.applied.get('1-9')).toBeUndefined();
    expect(t.clock.pending()).toBe(0);
  });
});

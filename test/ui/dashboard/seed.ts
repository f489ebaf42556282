// A small fleet for the dashboard's browser tests: real enrolments and real signed report
// batches, in two schools, with a history, events, a cloned image, a silent device, one that
// never reported and one whose hostname is an HTML injection attempt.
import { randomUUID } from 'node:crypto';
import {
  SCHEMA_VERSION,
  type AgentEvent,
  type CheckId,
  type CheckResult,
  type CheckStatus,
  type StatusCounts,
} from '../../../shared/index.ts';
import { ensureDeviceGroup, ensureSchool } from '../../../server/store/organisation.ts';
import { createEnrolmentToken } from '../../../server/store/tokens.ts';
import type { Dashboard } from '../../helpers/browser.ts';
import {
  report,
  result,
  sampleFacts,
  send,
  TestDevice,
  usbBlocked,
} from '../../helpers/device-client.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The hostname a device chose for itself: markup that must show as text, never run. */
export const HOSTILE_HOSTNAME = '<img src=x onerror=alert(1)>';

/** A hostile check summary, likewise. */
export const HOSTILE_SUMMARY = '<b>bold</b><script>alert(2)</script> is pass';

type Checks = Partial<Record<CheckId, CheckStatus>>;

interface DeviceSpec {
  hostname: string;
  school: 'northgate' | 'riverside';
  /** Reports in the order sent, each `hoursAgo` old; the last one is the device's state. */
  reports: { hoursAgo: number; checks: Checks }[];
  /** usb.blocked events sent with the last report. */
  usbEvents?: number;
  /** Report this many days ago and never since. */
  silentDays?: number;
  /** Shares its machine id with another spec of the same `twin` name. */
  twin?: string;
}

const allPass: Checks = { 'disk-encryption': 'pass', antivirus: 'pass', 'os-updates': 'pass' };

/** The fleet. Hostnames sort in this order, except the hostile one. */
export const FLEET: readonly DeviceSpec[] = [
  {
    hostname: 'ng-lt-001',
    school: 'northgate',
    reports: [
      { hoursAgo: 5, checks: { ...allPass, 'disk-encryption': 'fail' } },
      { hoursAgo: 1, checks: allPass },
    ],
    usbEvents: 2,
  },
  {
    hostname: 'ng-lt-002',
    school: 'northgate',
    reports: [
      {
        hoursAgo: 2,
        checks: { 'disk-encryption': 'fail', antivirus: 'pass', 'os-updates': 'warn' },
      },
    ],
  },
  {
    hostname: 'ng-lt-003',
    school: 'northgate',
    reports: [{ hoursAgo: 2, checks: { ...allPass, antivirus: 'unknown' } }],
    twin: 'image-a',
  },
  {
    hostname: 'ng-lt-004',
    school: 'northgate',
    reports: [{ hoursAgo: 3, checks: allPass }],
    twin: 'image-a',
  },
  // Enrolled 20 days ago and never reported since: silent, counted from its enrolment.
  { hostname: 'ng-lt-005', school: 'northgate', silentDays: 20, reports: [] },
  { hostname: HOSTILE_HOSTNAME, school: 'northgate', reports: [{ hoursAgo: 1, checks: allPass }] },
  {
    hostname: 'rv-st-001',
    school: 'riverside',
    reports: [{ hoursAgo: 1, checks: { ...allPass, 'os-updates': 'warn' } }],
  },
  {
    hostname: 'rv-st-002',
    school: 'riverside',
    reports: [{ hoursAgo: 0, checks: allPass }],
    silentDays: 10,
  },
];

/** What the dashboard should show for one seeded device. */
export interface SeededDevice {
  spec: DeviceSpec;
  id: string;
  serial: string;
  schoolId: string;
  /** Latest status per check, as last reported. */
  checks: Checks;
  overall: CheckStatus | null;
}

/** The seeded fleet and the ids the pages use. */
export interface Seeded {
  devices: SeededDevice[];
  schools: { northgate: { id: string; name: string }; riverside: { id: string; name: string } };
  byHostname(hostname: string): SeededDevice;
}

const REMEDIATION: Partial<Record<CheckStatus, string>> = {
  fail: 'Turn on BitLocker from Control Panel, or re-image the laptop.',
  warn: 'Install the pending updates and restart.',
};

function results(checks: Checks, at: Date, hostile: boolean): CheckResult[] {
  return Object.entries(checks).map(([checkId, status]) => {
    const base = result(checkId as CheckId, status, at);
    const remediation = REMEDIATION[status];
    return {
      ...base,
      ...(hostile && checkId === 'antivirus' ? { summary: HOSTILE_SUMMARY } : {}),
      ...(remediation === undefined ? {} : { remediation }),
    };
  });
}

/** Posts a signed batch with the device's clock (and the server's) at `at`. */
async function post(
  dashboard: Dashboard,
  device: TestDevice,
  batch: { reports: ReturnType<typeof report>[]; events: AgentEvent[] },
  at: Date,
): Promise<void> {
  const body = JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...batch });
  const url = '/api/v1/reports';
  const answer = await send(
    dashboard.server.app,
    'POST',
    url,
    body,
    device.sign('POST', url, body, { now: at }),
  );
  if (answer.status !== 200) {
    throw new Error(`seeding: batch refused with ${String(answer.status)}`);
  }
}

/** Enrols the fleet and sends its reports; returns what the pages should show. */
export async function seedFleet(dashboard: Dashboard): Promise<Seeded> {
  const { server } = dashboard;
  const riverside = await ensureSchool(server.db, 'Riverside Academy');
  const staff = await ensureDeviceGroup(server.db, 'Staff laptops');
  const riversideToken = await createEnrolmentToken(server.db, {
    schoolId: riverside.id,
    groupId: staff.id,
    label: 'riverside staff',
    expiresAt: new Date(Date.now() + DAY),
    maxUses: 100,
    createdBy: null,
  });
  const twins = new Map<string, string>();
  const devices: SeededDevice[] = [];
  for (const spec of FLEET) {
    let machineIdHash = randomUUID().replaceAll('-', '').padEnd(64, '0');
    if (spec.twin !== undefined) {
      machineIdHash = twins.get(spec.twin) ?? machineIdHash;
      twins.set(spec.twin, machineIdHash);
    }
    const facts = sampleFacts({ hostname: spec.hostname, machineIdHash });
    const device = new TestDevice(facts);
    const base = spec.silentDays === undefined ? Date.now() : Date.now() - spec.silentDays * DAY;
    dashboard.setClock(new Date(base));
    const enrolled = await device.enrol(
      server.app,
      spec.school === 'northgate' ? server.token : riversideToken.token,
    );
    if (enrolled.status !== 201) {
      throw new Error(`seeding: enrolment refused with ${String(enrolled.status)}`);
    }
    for (const [index, sent] of spec.reports.entries()) {
      const at = new Date(base - sent.hoursAgo * HOUR);
      const last = index === spec.reports.length - 1;
      const events = last
        ? Array.from({ length: spec.usbEvents ?? 0 }, (_, i) =>
            usbBlocked(new Date(at.getTime() - i * 60_000)),
          )
        : [];
      dashboard.setClock(at);
      await post(
        dashboard,
        device,
        {
          reports: [
            report(facts, results(sent.checks, at, spec.hostname === HOSTILE_HOSTNAME), at),
          ],
          events,
        },
        at,
      );
    }
    dashboard.setClock(null);
    const latest = spec.reports.at(-1);
    devices.push({
      spec,
      id: device.id,
      serial: String(facts.serial),
      schoolId: spec.school === 'northgate' ? server.schoolId : riverside.id,
      checks: latest?.checks ?? {},
      overall:
        latest === undefined
          ? null
          : ((['fail', 'unknown', 'warn', 'pass'] as const).find((s) =>
              Object.values(latest.checks).includes(s),
            ) ?? 'pass'),
    });
  }
  const byHostname = (hostname: string) => {
    const found = devices.find((d) => d.spec.hostname === hostname);
    if (found === undefined) {
      throw new Error(`no seeded device ${hostname}`);
    }
    return found;
  };
  return {
    devices,
    schools: {
      northgate: { id: server.schoolId, name: 'Northgate Primary' },
      riverside: { id: riverside.id, name: riverside.name },
    },
    byHostname,
  };
}

/** Counts of a set of statuses (null: never reported), as the overview tables show them. */
export function countStatuses(statuses: (CheckStatus | null | undefined)[]): StatusCounts {
  const counts: StatusCounts = { pass: 0, fail: 0, warn: 0, unknown: 0, none: 0 };
  for (const status of statuses) {
    counts[status ?? 'none'] += 1;
  }
  return counts;
}

// Reads the governors' report from the database with the dashboard's own queries: the overview's
// summary and trust trend for the trust, the school page for a school, and the quiet devices
// query for the trust's oldest stale devices. No SQL of its own, so the PDF and the pages agree.
import type { Queryable } from '../db/db.ts';
import { complianceTrend } from '../store/compliance-snapshots.ts';
import { complianceSummary } from '../store/compliance-summary.ts';
import { quietDevices } from '../store/quiet-devices.ts';
import { schoolPage } from '../store/school-page.ts';
import {
  OLDEST_STALE_LISTED,
  REPORT_STALE_DAYS,
  schoolReport,
  trustReport,
  type GovernorsReport,
} from './governors-report.ts';

/** The report of one school (`schoolId`) or the trust (null); null when there is no such school. */
export async function loadGovernorsReport(
  db: Queryable,
  options: { schoolId: string | null; days: number },
  now: Date,
): Promise<GovernorsReport | null> {
  const { schoolId, days } = options;
  if (schoolId !== null) {
    const page = await schoolPage(db, schoolId, REPORT_STALE_DAYS, now);
    return page === null ? null : schoolReport({ page, days, now });
  }
  const [summary, trend, quiet] = await Promise.all([
    complianceSummary(db, REPORT_STALE_DAYS, now),
    complianceTrend(db, 'trust', null, days, now),
    quietDevices(
      db,
      { schoolId: null, staleDays: REPORT_STALE_DAYS, limit: OLDEST_STALE_LISTED },
      now,
    ),
  ]);
  return trustReport({ summary, trend, quiet, days, now });
}

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { alertRoutes } from './alerts.ts';
import { auditRoutes } from './audit.ts';
import { aupRegisterRoutes } from './aup.ts';
import { refuseNul } from './common.ts';
import { chaseListRoutes } from './chase-list.ts';
import { deviceRoutes } from './devices.ts';
import { eventRoutes } from './events.ts';
import { governorsReportRoutes } from './governors-report.ts';
import { groupPolicyRoutes } from './group-policy.ts';
import { namedRoutes, organisationRoutes } from './named.ts';
import { peopleRoutes } from './people.ts';
import { policyCheckRoutes } from './policy-check.ts';
import { reenrolmentRoutes } from './re-enrolment.ts';
import { schoolPageRoutes } from './school-page.ts';
import { sessionRoutes } from './session.ts';
import { summaryRoutes } from './summary.ts';
import { tokenRoutes } from './tokens.ts';
import { trendRoutes } from './trends.ts';
import { usbRoutes } from './usb.ts';
import { userRoutes } from './users.ts';

/**
 * ICT API (`/api/v1/ict`): sessions, compliance reads, admin. Every route but sign-in needs a
 * session cookie (`requireUser`); every state-changing one also needs `x-csrf-token`.
 */
export const ictRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.decorateRequest('user', null);
  app.addHook('preValidation', refuseNul);
  await app.register(sessionRoutes);
  await app.register(summaryRoutes);
  await app.register(trendRoutes);
  await app.register(chaseListRoutes);
  await app.register(schoolPageRoutes);
  await app.register(governorsReportRoutes);
  await app.register(deviceRoutes);
  await app.register(reenrolmentRoutes);
  await app.register(eventRoutes);
  await app.register(namedRoutes('/schools', 'schools', 'school'));
  await app.register(namedRoutes('/groups', 'device_groups', 'device group'));
  await app.register(organisationRoutes);
  await app.register(groupPolicyRoutes);
  await app.register(policyCheckRoutes);
  await app.register(tokenRoutes);
  await app.register(userRoutes);
  await app.register(usbRoutes);
  await app.register(aupRegisterRoutes);
  await app.register(peopleRoutes);
  await app.register(auditRoutes);
  await app.register(alertRoutes);
};

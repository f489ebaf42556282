// `GET /reports/governors.pdf`: the governors' summary of the trust, or of one school, as a PDF
// drawn from the dashboard's own queries (server/reports/).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema, UuidSchema } from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { governorsPdf } from '../../../../reports/governors-pdf.ts';
import {
  DEFAULT_REPORT_DAYS,
  MAX_REPORT_DAYS,
  type GovernorsReport,
} from '../../../../reports/governors-report.ts';
import { loadGovernorsReport } from '../../../../reports/load-governors-report.ts';
import { signedInErrors } from './common.ts';

const GovernorsReportQuerySchema = Type.Object(
  {
    /** One school; absent for the whole trust. */
    schoolId: Type.Optional(UuidSchema),
    days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_REPORT_DAYS, default: DEFAULT_REPORT_DAYS }),
    ),
  },
  { additionalProperties: false },
);

/** A file name of plain letters, digits and hyphens: safe inside the quoted header value. */
export function reportFileName(report: GovernorsReport): string {
  const subject =
    report.scope === 'trust'
      ? 'trust'
      : report.title
          .normalize('NFD')
          .replace(/\p{M}+/gu, '')
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-+|-+$/g, '')
          .slice(0, 60) || 'school';
  return `governors-report-${subject}-${report.period.to}.pdf`;
}

/** `GET /reports/governors.pdf`. */
export const governorsReportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/reports/governors.pdf',
    {
      onRequest: requireUser('viewer'),
      schema: {
        summary:
          "Governors' summary as a PDF (A4): the trust, or one school with schoolId; the last `days` days",
        tags: ['ict'],
        querystring: GovernorsReportQuerySchema,
        produces: ['application/pdf'],
        response: {
          // The PDF's bytes, streamed as they are drawn: Fastify pipes a stream and never
          // serialises it, so the schema only describes the body for the OpenAPI document.
          200: Type.Unsafe<NodeJS.ReadableStream>({
            type: 'string',
            format: 'binary',
            description: 'application/pdf',
          }),
          404: ApiErrorSchema,
          ...signedInErrors,
        },
      },
    },
    async (request, reply) => {
      const report = await loadGovernorsReport(
        app.db,
        {
          schoolId: request.query.schoolId ?? null,
          days: request.query.days ?? DEFAULT_REPORT_DAYS,
        },
        app.now(),
      );
      if (report === null) {
        return reply.status(404).send({ error: 'not-found', message: 'No such school.' });
      }
      const pdf = await governorsPdf(report);
      return reply
        .type('application/pdf')
        .header('content-disposition', `attachment; filename="${reportFileName(report)}"`)
        .header('cache-control', 'no-store')
        .send(pdf);
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  DeviceDetailSchema,
  DeviceListQuerySchema,
  DeviceListSchema,
  UuidSchema,
  type DeviceListItem,
} from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { deviceDetail } from '../../../../store/device-detail.ts';
import { exportDevices, listDevices } from '../../../../store/device-list.ts';
import { signedInErrors } from './common.ts';

const CSV_COLUMNS: readonly (keyof DeviceListItem)[] = [
  'id',
  'hostname',
  'serial',
  'os',
  'school',
  'group',
  'overall',
  'lastSeenAt',
  'lastReportAt',
  'cloneSuspect',
];

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would run as a formula (leading = + - @, or a
 * tab or CR that some programs strip first) gets a leading apostrophe: OWASP "CSV Injection".
 */
export function csvCell(value: string | boolean | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The device list as CSV: a header row, then one row per device, CRLF line ends. */
export function devicesCsv(items: readonly DeviceListItem[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const item of items) {
    lines.push(CSV_COLUMNS.map((column) => csvCell(item[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** `/devices`: the filtered list, its CSV export, and one device's detail. */
export const deviceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const viewer = requireUser('viewer');

  app.get(
    '/devices',
    {
      onRequest: viewer,
      schema: {
        summary:
          'Devices, filtered, ordered by hostname; paged by offset or by an after/before cursor',
        tags: ['ict'],
        querystring: DeviceListQuerySchema,
        response: { 200: DeviceListSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const { after, before, offset = 0 } = request.query;
      const pagings = [after !== undefined, before !== undefined, offset > 0].filter(Boolean);
      if (pagings.length > 1) {
        return reply.status(400).send({
          error: 'invalid-request',
          message: 'Page with one of after, before and offset, not several.',
        });
      }
      return listDevices(app.db, request.query, app.now());
    },
  );

  app.get(
    '/devices.csv',
    {
      onRequest: viewer,
      schema: {
        summary:
          'The device list as CSV (same filters; limit, offset, after and before are ignored)',
        tags: ['ict'],
        querystring: DeviceListQuerySchema,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'text/csv' }), ...signedInErrors },
      },
    },
    async (request, reply) => {
      const items = await exportDevices(app.db, request.query, app.now());
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="hallpass-devices.csv"')
        .header('cache-control', 'no-store')
        .send(devicesCsv(items));
    },
  );

  app.get(
    '/devices/:id',
    {
      onRequest: viewer,
      schema: {
        summary: 'One device: latest check states, recent changes and events',
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        response: { 200: DeviceDetailSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const detail = await deviceDetail(app.db, request.params.id);
      if (detail === null) {
        return reply.status(404).send({ error: 'not-found', message: 'No such device.' });
      }
      return detail;
    },
  );
};

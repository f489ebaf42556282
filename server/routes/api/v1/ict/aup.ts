import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  AupRegisterQuerySchema,
  AupRegisterSchema,
  AupSignedCopySchema,
  UuidSchema,
  type AupRegister,
} from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { aupRegister, aupSignedCopy } from '../../../../store/aup-register.ts';
import { findNamed } from '../../../../store/organisation.ts';
import { outstandingCsv, signaturesCsv } from './aup-csv.ts';
import { signedInErrors } from './common.ts';

const noSchool = { error: 'not-found', message: 'No school has that id.' } as const;

/**
 * `/aup`: the AUP register for the e-safety lead, read-only for every role. Signatures are what
 * devices recorded; nothing here edits them.
 */
export const aupRegisterRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const viewer = requireUser('viewer');

  app.get(
    '/aup/register',
    {
      onRequest: viewer,
      schema: {
        summary:
          "One school's AUP register: signatures, users outstanding and each document's cycle",
        tags: ['ict'],
        querystring: AupRegisterQuerySchema,
        response: { 200: AupRegisterSchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const school = await findNamed(app.db, 'schools', request.query.school);
      if (school === null) {
        return reply.status(404).send(noSchool);
      }
      return aupRegister(app.db, school, request.query, app.now());
    },
  );

  for (const [table, toCsv] of [
    ['signatures', (register: AupRegister) => signaturesCsv(register.signatures)],
    ['outstanding', (register: AupRegister) => outstandingCsv(register.outstanding)],
  ] as const) {
    app.get(
      `/aup/register/${table}.csv`,
      {
        onRequest: viewer,
        schema: {
          summary: `The register's ${table} table as CSV, as the AUP page shows it (same query)`,
          tags: ['ict'],
          querystring: AupRegisterQuerySchema,
          produces: ['text/csv'],
          response: {
            200: Type.String({ description: 'text/csv' }),
            404: ApiErrorSchema,
            ...signedInErrors,
          },
        },
      },
      async (request, reply) => {
        const school = await findNamed(app.db, 'schools', request.query.school);
        if (school === null) {
          return reply.status(404).send(noSchool);
        }
        const register = await aupRegister(app.db, school, request.query, app.now());
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="hallpass-aup-${table}.csv"`)
          .header('cache-control', 'no-store')
          .send(toCsv(register));
      },
    );
  }

  app.get(
    '/aup/signatures/:id',
    {
      onRequest: viewer,
      schema: {
        summary: 'One signature with the text signed (checked against its SHA-256), to print',
        tags: ['ict'],
        params: Type.Object({ id: UuidSchema }),
        response: { 200: AupSignedCopySchema, 404: ApiErrorSchema, ...signedInErrors },
      },
    },
    async (request, reply) => {
      const copy = await aupSignedCopy(app.db, request.params.id, app.now());
      if (copy === null) {
        return reply
          .status(404)
          .send({ error: 'not-found', message: 'No AUP signature has that id.' });
      }
      return copy;
    },
  );
};

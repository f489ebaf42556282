import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ApiErrorSchema,
  AupRegisterQuerySchema,
  AupRegisterSchema,
  AupSignedCopySchema,
  UuidSchema,
} from '../../../../../shared/index.ts';
import { requireUser } from '../../../../auth/sessions.ts';
import { aupRegister, aupSignedCopy } from '../../../../store/aup-register.ts';
import { findNamed } from '../../../../store/organisation.ts';
import { signedInErrors } from './common.ts';

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
        return reply.status(404).send({ error: 'not-found', message: 'No school has that id.' });
      }
      return aupRegister(
        app.db,
        school,
        { document: request.query.document, version: request.query.version },
        app.now(),
      );
    },
  );

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

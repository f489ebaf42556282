import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** ICT API (`/api/v1/ict`): sessions, compliance reads, admin. */
export const ictRoutes: FastifyPluginAsyncTypebox = async () => {
  // Routes are registered here as they are built.
};

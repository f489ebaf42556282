import type { FastifyPluginAsync } from 'fastify';

/** The ICT dashboard pages (ui/dashboard), served by the server. */
export const dashboardRoutes: FastifyPluginAsync = async () => {
  // Pages are registered here as they are built.
};

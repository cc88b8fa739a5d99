/**
 * The OpenAPI document and its viewer at /docs, the same for every API: OpenAPI 3.1, bearer JWT
 * security on every route unless it says otherwise, and the text rules every request part keeps
 * to shown as patterns (text-input.ts).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { withDocumentedTextRules } from './text-input.ts';

export async function registerOpenApi(
  app: FastifyInstance,
  info: { title: string; description?: string },
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { version: '1', ...info },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
    transformObject: (documents) =>
      'openapiObject' in documents
        ? withDocumentedTextRules(documents.openapiObject)
        : documents.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

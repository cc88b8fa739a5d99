/**
 * The OpenAPI document and its viewer at /docs, the same for every API: OpenAPI 3.1, bearer JWT
 * security on every route unless it says otherwise, the text rules every request part keeps to
 * shown as patterns (text-input.ts), and the links from an answer to what can be done next with
 * the id it names (so a client, or a stateful fuzzer, can follow them).
 */
// The routes' `schema.hide` comes from this plugin's types: kept in the emitted declarations.
/// <reference types="@fastify/swagger" preserve="true" />
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { withDocumentedTextRules } from './text-input.ts';

/** An answer that names a resource, and the operations on it, each parameter from the answer. */
export interface OpenApiLink {
  /** `POST /v1/conversations`, as the document spells the path. */
  from: string;
  status: string;
  /** `PATCH /v1/conversations/{id}` and the like. */
  to: readonly string[];
  /** Runtime expressions by parameter name, such as `{ id: '$response.body#/aggregateId' }`. */
  parameters: Record<string, string>;
}

type Document = { paths?: Record<string, Record<string, { responses?: Record<string, object> }>> };

const operationOf = (document: Document, spec: string) => {
  const [method = '', path = ''] = spec.split(' ');
  const operation = document.paths?.[path]?.[method.toLowerCase()];
  // A link to nowhere is a mistake in the code, found when the document is first built.
  if (!operation) throw new Error(`OpenAPI link: no operation ${spec}`);
  return { method: method.toLowerCase(), path, operation };
};

/** The document with each link on the answer it starts from (`operationRef` to its target). */
export function withLinks<D extends Document>(document: D, links: readonly OpenApiLink[]): D {
  const linked = structuredClone(document);
  for (const link of links) {
    const { operation } = operationOf(linked, link.from);
    const response = operation.responses?.[link.status] as { links?: object } | undefined;
    if (!response) throw new Error(`OpenAPI link: ${link.from} has no ${link.status} answer`);
    const named: Record<string, object> = { ...response.links };
    for (const target of link.to) {
      const { method, path } = operationOf(linked, target);
      const ref = `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
      const name = `${method}${path}`.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '');
      named[name] = { operationRef: ref, parameters: link.parameters };
    }
    response.links = named;
  }
  return linked;
}

export async function registerOpenApi(
  app: FastifyInstance,
  info: { title: string; description?: string },
  links: readonly OpenApiLink[] = [],
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
        ? withLinks(withDocumentedTextRules(documents.openapiObject as Document), links)
        : documents.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

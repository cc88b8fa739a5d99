/**
 * Holds an API to its OpenAPI document: records every answer the app gives during a test run
 * (route, status, content type) and lists those the document does not have. The integration
 * tests install it on the apps they build, so an answer the document leaves out fails them.
 */
import type { FastifyInstance } from 'fastify';

interface Answer {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly contentType: string | undefined;
}

interface OpenApiDocument {
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>
  >;
}

/** `/v1/users/:id` as OpenAPI writes it: `/v1/users/{id}`. */
const openApiPath = (route: string) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Why an answer breaks the document, or undefined when the document has it. */
export function contractProblem(document: OpenApiDocument, answer: Answer): string | undefined {
  const operation = document.paths?.[openApiPath(answer.route)]?.[answer.method.toLowerCase()];
  // Routes outside the document (health, metrics, the document itself, HEAD) are not held to it.
  if (!operation) return undefined;
  const where = `${answer.method} ${answer.route} answered ${answer.status}`;
  const response = operation.responses?.[String(answer.status)] ?? operation.responses?.default;
  if (!response) return `${where}, a status its document lacks`;
  const mediaType = answer.contentType?.split(';')[0]?.trim().toLowerCase();
  if (!mediaType) return undefined;
  if (!response.content?.[mediaType]) {
    const documented = Object.keys(response.content ?? {}).join(', ') || 'no body';
    return `${where} with ${mediaType}, but its document says ${documented}`;
  }
  return undefined;
}

export function recordAnswers(app: FastifyInstance) {
  const answers: Answer[] = [];
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route) {
      const contentType = reply.getHeader('content-type');
      answers.push({
        method: request.method,
        route,
        status: reply.statusCode,
        contentType: typeof contentType === 'string' ? contentType : undefined,
      });
    }
    done();
  });
  return {
    answers: () => answers,
    /** Every answer so far that its document lacks, once per kind. */
    violations(): string[] {
      const document = (app as unknown as { swagger(): OpenApiDocument }).swagger();
      return [...new Set(answers.flatMap((a) => contractProblem(document, a) ?? []))];
    },
  };
}

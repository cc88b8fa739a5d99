/**
 * Error answers in the OpenAPI documents, as they are sent: `application/problem+json` with the
 * RFC 9457 body. A route lists the errors it raises itself (`problems(401, 404)`); the HTTP base
 * adds to every documented route those any route can answer (`genericProblems`): 400 for bad
 * input or a malformed URL, 413 and 415 for a body, 414 for a path parameter over its length,
 * 429 where a rate limit applies, 500, and 503 (a dependency down, or the instance draining).
 */
import { Type } from 'typebox';
import { PROBLEM_CONTENT_TYPE, titleFor } from './errors.ts';

export const problemBody = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
);

export interface ProblemResponse {
  readonly description: string;
  readonly content: { readonly [PROBLEM_CONTENT_TYPE]: { readonly schema: typeof problemBody } };
}

/** Response schemas of these error statuses, each problem+json. */
export function problems(...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: titleFor(status),
        content: { [PROBLEM_CONTENT_TYPE]: { schema: problemBody } },
      },
    ]),
  );
}

/** A success without a body (204), as the document shows it. */
export const noContent = Type.Null({ description: 'Done; no body' });

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The errors any route answers, given its method, URL and whether it is rate-limited. */
export function genericProblems(route: {
  method: string | string[];
  url: string;
  rateLimited: boolean;
}): Record<number, ProblemResponse> {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const statuses = [400, 500, 503];
  if (methods.some((m) => WITH_BODY.has(m))) statuses.push(413, 415);
  if (route.url.includes(':')) statuses.push(414);
  if (route.rateLimited) statuses.push(429);
  return problems(...statuses.sort());
}

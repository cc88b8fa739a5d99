/** What the read routes answer besides their data: 304 and their own errors as problem+json. */
import { problems } from '@parley/platform/problem-responses';
import { Type } from 'typebox';

export const notModified = Type.Null({
  description: 'Not modified: the ETag in If-None-Match is still current; no body',
});

/**
 * A read route's answers besides 200: 304 (every read honours If-None-Match), 401 without a valid
 * token, and the errors it raises itself (403 for a role it needs, 404 for what the caller may not
 * see). The HTTP base adds the generic ones (400, 429, 500, 503...).
 */
export const readResponses = (...statuses: Array<403 | 404>) => ({
  304: notModified,
  ...problems(401, ...statuses),
});

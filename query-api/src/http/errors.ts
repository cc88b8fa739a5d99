/** The errors of the read routes; the platform's error handler turns them into problem+json. */
import { defineError } from '@parley/platform/errors';

/** No such resource, or not one the caller may see (never reveal which: OWASP API1). */
export const NotFound = defineError('NOT_FOUND', 404, 'No such resource');
/** The route needs a role the caller does not have. */
export const Forbidden = defineError('FORBIDDEN', 403, 'Not allowed');
/** A cursor that this API did not make, or made for another query. */
export const InvalidCursor = defineError('INVALID_CURSOR', 400, 'The cursor is not valid here');
/** A user with as many event streams open on this instance as they may hold. */
export const TooManyStreams = defineError('TOO_MANY_STREAMS', 429, 'Too many open event streams');
/** A range the route does not serve (reversed, or too long). */
export const InvalidRange = defineError('INVALID_RANGE', 400, 'The range is not valid');

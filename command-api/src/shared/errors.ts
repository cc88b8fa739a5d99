/** The errors a decider raises; the HTTP edge maps them to problem+json by their status. */
import { defineError } from '@parley/platform/errors';

/** A business rule forbids the command in the aggregate's current state. */
export const RuleViolation = defineError('RULE_VIOLATION', 422, 'The command breaks a rule');
/** The client's If-Match version is not the aggregate's version. */
export const VersionConflict = defineError('VERSION_CONFLICT', 409, 'The resource has changed');
/** The aggregate already exists (a create command for an existing id). */
export const AlreadyExists = defineError('ALREADY_EXISTS', 409, 'The resource already exists');
/** No such aggregate, or not one the actor may see (never reveal which: OWASP API1). */
export const NotFound = defineError('NOT_FOUND', 404, 'No such resource');
/** The actor may see the aggregate but not do this to it. */
export const Forbidden = defineError('FORBIDDEN', 403, 'Not allowed');

/**
 * What happened to a command, as the API answers it: accepted with the aggregate's new version
 * and the log position of its last event, or rejected with the problem to show the client.
 */
export type Outcome =
  | {
      readonly status: 'accepted';
      readonly commandId: string;
      /** Who sent the command; only they may read its outcome. */
      readonly actor: string;
      readonly aggregateId: string;
      /** Aggregate version after the command (unchanged when it produced no events). */
      readonly version: number;
      /** `<events topic>:<partition>:<offset>` of the last event, or null when there was none. */
      readonly position: string | null;
    }
  | {
      readonly status: 'rejected';
      readonly commandId: string;
      readonly actor: string;
      readonly aggregateId: string;
      readonly code: string;
      readonly httpStatus: number;
      readonly detail: string;
      readonly extensions: Record<string, unknown>;
    };

/** The actors that are not people, as commands and events name them (`metadata.actor`). */

/** The assistant reactor: records replies, their failures, and proposes titles. */
export const ASSISTANT_ACTOR = 'system:assistant';

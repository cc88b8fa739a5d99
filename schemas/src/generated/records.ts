// Generated from schemas/avro by `npm run schemas:generate`. Do not edit.

/** Carried by every command record on a <context>.commands topic. */
export interface CommandMetadata {
  /** Unique id of the command; the same id always yields the same outcome. */
  commandId: string;
  /** The aggregate the command targets; also the record key. */
  aggregateId: string;
  /** When the API accepted the command (UTC); deciders take time from here. */
  issuedAt: number;
  /** Id shared by everything caused by one client request. */
  correlationId: string;
  /** Who asks: user:<uuid>, or system:<component>. */
  actor: string;
  /** Roles of the actor when the command was issued (user, admin, analyst). */
  actorRoles: Array<string>;
  /** Optimistic concurrency: the aggregate version the client saw (If-Match). */
  expectedVersion: null | number;
  /** The client's Idempotency-Key header, if any. */
  idempotencyKey: null | string;
  /** Reserved for multi-tenancy; null in v1. */
  tenantId: null | string;
}

/** Archive the conversation. */
export interface ArchiveConversation {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
}

/** Delete the conversation. */
export interface DeleteConversation {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
}

/** Personal data encrypted with the data key of the person it belongs to (AES-256-GCM). Erasing the key erases the data in every copy of the log. */
export interface EncryptedText {
  /** Id of the per-user data key. */
  keyId: string;
  /** 96-bit GCM nonce. */
  nonce: Buffer;
  /** Ciphertext followed by the 128-bit GCM tag. */
  ciphertext: Buffer;
}

/** Post a message to the assistant. */
export interface PostUserMessage {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** Client-chosen or API-assigned message id. */
  messageId: string;
  /** The message, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedText. (personal data: content) */
  text: string;
  /** The message, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedText: null | EncryptedText;
}

/** Sent by the assistant reactor after the first exchange of an untitled conversation. */
export interface ProposeConversationTitle {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** The title, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedTitle: EncryptedText;
  /** Input tokens the assistant's model used to propose the title, summed over every step of the call (0 in commands written before they were counted). */
  promptTokens: number;
  /** Output tokens the assistant's model used to propose the title, summed over every step of the call (0 in commands written before they were counted). */
  completionTokens: number;
}

/** Sent by the assistant reactor with the finished reply. */
export interface RecordAssistantReply {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** Id of the reply. */
  messageId: string;
  /** The user message it answers. */
  replyTo: string;
  /** The reply, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedText. (personal data: content) */
  text: string;
  /** The reply, encrypted under the conversation owner's data key. (personal data: encrypted) */
  encryptedText: null | EncryptedText;
  /** Provider and model. */
  model: string;
  /** Input tokens, summed over every step of the call. */
  promptTokens: number;
  /** Output tokens, summed over every step of the call. */
  completionTokens: number;
  /** Time from the request to the model to its last token (the whole call). */
  latencyMs: number;
  /** Who served the model, e.g. offline or openai-compatible; empty in records written before it was kept. */
  provider: string;
  /** Why the reply ended: stop, length, content-filter, stopped (the user stopped it), other. */
  finishReason: string;
  /** Time from the request to the model to its first token; 0 when not measured. */
  firstTokenMs: number;
  /** 1 for the first reply to the message, 2 and more for replies the user asked for again. */
  attempt: number;
}

/** Sent by the assistant reactor when it gives up on a message. */
export interface RecordAssistantReplyFailure {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** The user message left unanswered. */
  replyTo: string;
  /** Machine-readable reason. */
  reason: string;
  /** The model that was asked, if any. */
  model: null | string;
  /** Which reply to the message this was: 1 first, 2 and more asked for again. */
  attempt: number;
}

/** The owner asks the assistant to answer one of their messages again; earlier replies stay. */
export interface RegenerateReply {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** The user message to answer again. */
  messageId: string;
}

/** Change the title. */
export interface RenameConversation {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** New title, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedTitle. (personal data: content) */
  title: string;
  /** The new title, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedTitle: null | EncryptedText;
}

/** Start a conversation. */
export interface StartConversation {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** Title, 1-200 characters, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedTitle. (personal data: content) */
  title: string;
  /** The title, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedTitle: null | EncryptedText;
}

/** The owner stops the reply the assistant is writing to one of their messages. */
export interface StopReply {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** The user message whose reply stops. */
  messageId: string;
}

/** Carried by every event: identity, position in its aggregate, time and provenance. */
export interface EventMetadata {
  /** Unique id of this event; consumers deduplicate on it. */
  eventId: string;
  /** The aggregate (user, conversation) this event belongs to; also the record key. */
  aggregateId: string;
  /** Version of the aggregate after this event: 1, 2, 3... with no gaps. */
  aggregateVersion: number;
  /** When the command processor decided the event (UTC). */
  occurredAt: number;
  /** Id shared by everything caused by one client request. */
  correlationId: string;
  /** Id of the command (or event) that caused this event. */
  causationId: string;
  /** Who caused it: user:<uuid>, or system:<component>. */
  actor: string;
  /** Reserved for multi-tenancy; null in v1. */
  tenantId: null | string;
}

/** The assistant could not answer (timeout, provider error, quota). */
export interface AssistantReplyFailed {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** The user message left unanswered. */
  replyTo: string;
  /** Machine-readable reason, e.g. timeout, quota_exceeded, provider_error. */
  reason: string;
  /** The model that was asked, if any. */
  model: null | string;
  /** Which reply to the message this was: 1 first, 2 and more asked for again. */
  attempt: number;
}

/** The assistant answered a user message. */
export interface AssistantReplyRecorded {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** Id of the reply. */
  messageId: string;
  /** The user message it answers. */
  replyTo: string;
  /** The reply, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedText. (personal data: content) */
  text: string;
  /** The reply, encrypted under the conversation owner's data key. (personal data: encrypted) */
  encryptedText: null | EncryptedText;
  /** Provider and model, e.g. openai:gpt-4o-mini. */
  model: string;
  /** Input tokens, summed over every step of the call. */
  promptTokens: number;
  /** Output tokens, summed over every step of the call. */
  completionTokens: number;
  /** Time from the request to the model to its last token (the whole call). */
  latencyMs: number;
  /** Who served the model, e.g. offline or openai-compatible; empty in records written before it was kept. */
  provider: string;
  /** Why the reply ended: stop, length, content-filter, stopped (the user stopped it), other. */
  finishReason: string;
  /** Time from the request to the model to its first token; 0 when not measured. */
  firstTokenMs: number;
  /** 1 for the first reply to the message, 2 and more for replies the user asked for again. */
  attempt: number;
}

/** The owner archived the conversation: readable, no new messages. */
export interface ConversationArchived {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
}

/** The owner deleted the conversation: read models drop it and its messages. */
export interface ConversationDeleted {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
}

/** The owner changed the title. */
export interface ConversationRenamed {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** New title, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedTitle. (personal data: content) */
  title: string;
  /** The new title, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedTitle: null | EncryptedText;
  /** Input tokens the assistant's model used to propose this title; 0 for a title the owner gave (and in events written before they were counted). */
  promptTokens: number;
  /** Output tokens the assistant's model used to propose this title; 0 for a title the owner gave (and in events written before they were counted). */
  completionTokens: number;
}

/** A user started a conversation with the assistant. */
export interface ConversationStarted {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** The user who owns the conversation. */
  ownerId: string;
  /** Title, 1-200 characters, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedTitle. (personal data: content) */
  title: string;
  /** The title, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedTitle: null | EncryptedText;
}

/** The owner asked for another reply to one of their messages; the message awaits a reply again. */
export interface ReplyRegenerationRequested {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** The user message to answer again. */
  messageId: string;
  /** Which reply to the message is asked for: 2 for the second, and so on. */
  attempt: number;
}

/** The owner stopped the reply being written to one of their messages. */
export interface ReplyStopRequested {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** The user message whose reply stops. */
  messageId: string;
}

/** The owner posted a message; the assistant replies to it. */
export interface UserMessagePosted {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** Id of the message. */
  messageId: string;
  /** The user who wrote it. */
  authorId: string;
  /** The message, in plain text: only in records written before content was encrypted (ADR 0023); empty since, see encryptedText. (personal data: content) */
  text: string;
  /** The message, encrypted under the owner's data key. (personal data: encrypted) */
  encryptedText: null | EncryptedText;
}

/** What a user may do: user (own data), admin (manage users), analyst (aggregates only). */
export type Role = 'user' | 'admin' | 'analyst';

/** Give a user another role (admins only). */
export interface ChangeUserRole {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** The new role. */
  role: Role;
}

/** Stop an account (the user themself or an admin). */
export interface DeactivateUser {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** Why, for the audit trail. */
  reason: null | string;
}

/** Erase a user's personal data (GDPR). */
export interface EraseUser {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
}

/** Create an account (credentials stay in the identity store, never here). */
export interface RegisterUser {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** Normalised email address. (personal data: encrypted) */
  email: EncryptedText;
  /** Name shown to others. (personal data: encrypted) */
  displayName: EncryptedText;
  /** Initial role. */
  role: Role;
  /** BCP 47 language tag. */
  locale: null | string;
}

/** Change profile fields; null leaves a field as it is. */
export interface UpdateUserProfile {
  /** Identity, target, time and provenance. */
  metadata: CommandMetadata;
  /** New display name. (personal data: encrypted) */
  displayName: null | EncryptedText;
  /** New locale. */
  locale: null | string;
}

/** The account can no longer log in or act; its data is kept. */
export interface UserDeactivated {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** Why, for the audit trail (no personal data). */
  reason: null | string;
}

/** GDPR erasure: the user's data key was deleted, so their encrypted personal data is unreadable everywhere. */
export interface UserErased {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
}

/** A user changed their profile; null fields are unchanged. */
export interface UserProfileUpdated {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** New display name. (personal data: encrypted) */
  displayName: null | EncryptedText;
  /** New locale. */
  locale: null | string;
}

/** A user account was created. */
export interface UserRegistered {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** Normalised email address. (personal data: encrypted) */
  email: EncryptedText;
  /** Name shown to others. (personal data: encrypted) */
  displayName: EncryptedText;
  /** Initial role. */
  role: Role;
  /** BCP 47 language tag, e.g. en-GB. */
  locale: null | string;
}

/** An admin changed a user's role. */
export interface UserRoleChanged {
  /** Identity, version, time and provenance. */
  metadata: EventMetadata;
  /** The new role. */
  role: Role;
  /** The role before. */
  previousRole: Role;
}

export interface ChatCommandMap {
  ArchiveConversation: ArchiveConversation;
  DeleteConversation: DeleteConversation;
  PostUserMessage: PostUserMessage;
  ProposeConversationTitle: ProposeConversationTitle;
  RecordAssistantReply: RecordAssistantReply;
  RecordAssistantReplyFailure: RecordAssistantReplyFailure;
  RegenerateReply: RegenerateReply;
  RenameConversation: RenameConversation;
  StartConversation: StartConversation;
  StopReply: StopReply;
}
/** A decoded chat command with its type tag. */
export type ChatCommand = { [K in keyof ChatCommandMap]: { type: K; value: ChatCommandMap[K] } }[keyof ChatCommandMap];
/** The chat command type names, at run time. */
export const chatCommandTypes: ReadonlyArray<keyof ChatCommandMap> = ['ArchiveConversation', 'DeleteConversation', 'PostUserMessage', 'ProposeConversationTitle', 'RecordAssistantReply', 'RecordAssistantReplyFailure', 'RegenerateReply', 'RenameConversation', 'StartConversation', 'StopReply'];

export interface ChatEventMap {
  AssistantReplyFailed: AssistantReplyFailed;
  AssistantReplyRecorded: AssistantReplyRecorded;
  ConversationArchived: ConversationArchived;
  ConversationDeleted: ConversationDeleted;
  ConversationRenamed: ConversationRenamed;
  ConversationStarted: ConversationStarted;
  ReplyRegenerationRequested: ReplyRegenerationRequested;
  ReplyStopRequested: ReplyStopRequested;
  UserMessagePosted: UserMessagePosted;
}
/** A decoded chat event with its type tag. */
export type ChatEvent = { [K in keyof ChatEventMap]: { type: K; value: ChatEventMap[K] } }[keyof ChatEventMap];
/** The chat event type names, at run time. */
export const chatEventTypes: ReadonlyArray<keyof ChatEventMap> = ['AssistantReplyFailed', 'AssistantReplyRecorded', 'ConversationArchived', 'ConversationDeleted', 'ConversationRenamed', 'ConversationStarted', 'ReplyRegenerationRequested', 'ReplyStopRequested', 'UserMessagePosted'];

export interface IdentityCommandMap {
  ChangeUserRole: ChangeUserRole;
  DeactivateUser: DeactivateUser;
  EraseUser: EraseUser;
  RegisterUser: RegisterUser;
  UpdateUserProfile: UpdateUserProfile;
}
/** A decoded identity command with its type tag. */
export type IdentityCommand = { [K in keyof IdentityCommandMap]: { type: K; value: IdentityCommandMap[K] } }[keyof IdentityCommandMap];
/** The identity command type names, at run time. */
export const identityCommandTypes: ReadonlyArray<keyof IdentityCommandMap> = ['ChangeUserRole', 'DeactivateUser', 'EraseUser', 'RegisterUser', 'UpdateUserProfile'];

export interface IdentityEventMap {
  UserDeactivated: UserDeactivated;
  UserErased: UserErased;
  UserProfileUpdated: UserProfileUpdated;
  UserRegistered: UserRegistered;
  UserRoleChanged: UserRoleChanged;
}
/** A decoded identity event with its type tag. */
export type IdentityEvent = { [K in keyof IdentityEventMap]: { type: K; value: IdentityEventMap[K] } }[keyof IdentityEventMap];
/** The identity event type names, at run time. */
export const identityEventTypes: ReadonlyArray<keyof IdentityEventMap> = ['UserDeactivated', 'UserErased', 'UserProfileUpdated', 'UserRegistered', 'UserRoleChanged'];

/** Every record on Kafka by its type name. */
export interface RecordMap extends ChatCommandMap, ChatEventMap, IdentityCommandMap, IdentityEventMap {}
export type RecordName = keyof RecordMap;

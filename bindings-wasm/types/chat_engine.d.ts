// Hand-checked TypeScript declarations of the chat engine's WebAssembly bindings.
//
// This file is the single source: `src/js.rs` embeds it (typescript_custom_section), so it is
// shipped verbatim in the generated `chat_engine.d.ts` of both packages (web and node).
// Resources mirror chat-core's serializers attribute for attribute (the REST v5 JSON).
// Checked by `tsc --noEmit --strict` over the JS tests (bindings-wasm/js-tests).

// ---- basics ------------------------------------------------------------------------------

/** A dashed lowercase UUID. */
export type Uuid = string;
/** A visitor id: 32 lowercase hexadecimal characters. */
export type VisitorId = string;
/** An ISO 8601 UTC timestamp, e.g. `2025-01-01T00:00:00.000Z`. */
export type Timestamp = string;

/** A cursor-paginated collection; `next`/`previous` are opaque cursors (pass as `query.cursor`). */
export interface Collection<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Who acts in `callAs`. Users by UUID, visitors by their 32-hex id; `admin` is the host. */
export type Actor =
  | { type: "admin" }
  | { type: "user"; id: Uuid }
  | { type: "visitor"; id: VisitorId };

/** Core's stable error codes (`ErrorCode::as_str`). */
export type ErrorCodeName =
  | "not_authenticated"
  | "no_active_subscription"
  | "permission_denied"
  | "reports_permission_required"
  | "private_chat_history"
  | "not_found"
  | "chat_not_pending"
  | "validation_error"
  | "parse_error"
  | "chat_ended"
  | "chat_already_ended"
  | "user_not_present"
  /** No longer returned (a served private chat answers `private_chat_taken`). */
  | "visitor_has_chat"
  | "private_chat_taken"
  | "invitation_expired"
  | "invitation_accepted"
  | "conversation_starter_exists"
  | "idempotency_key_reused"
  | "chat_key_unavailable"
  | "already_exists"
  | "schema_too_new"
  | "storage_error"
  | "internal_error"
  | "delivery_not_failed"
  | "storage_unavailable";

/** Field name → sentences. */
export type FieldErrors = Record<string, string[]>;

/** The REST error body: `{detail, code}` plus `errors` for validation errors. */
export interface ErrorBody {
  detail: string;
  code: ErrorCodeName;
  errors?: FieldErrors;
}

/**
 * What every engine method throws: a real `Error` (`name === "ChatError"`, `message === detail`).
 * A panic inside the engine is thrown as `internal_error` too; the module then refuses further
 * calls (reload it).
 */
export interface ChatError extends Error {
  name: "ChatError";
  code: ErrorCodeName;
  /** The stable number of the code (the C ABI's result code). */
  codeNumber: number;
  /** The HTTP-equivalent status. */
  status: number;
  detail: string;
  /** Field errors; `{}` when none. */
  errors: FieldErrors;
  /** The error body the REST API sends. */
  body: ErrorBody;
}

export interface Reply<T = unknown> {
  /** The HTTP-equivalent status: 200, 201 (created) or 204 (no content, `body === null`). */
  status: number;
  body: T;
}

export interface OperationSpec {
  name: string;
  /** Which arguments it reads (documentation). */
  args: string;
  summary: string;
}

export interface ErrorCodeSpec {
  code: ErrorCodeName;
  number: number;
  status: number;
}

export interface OpenOptions {
  /** Run on a manual clock starting at this time (ms since the epoch); see `advanceClock`. */
  testClockMs?: number;
  /** `"normal"` (default) or `"full"`: how hard commits are pushed to storage. */
  durability?: "normal" | "full";
  /** How long events are kept for `events_since` and subscriptions (default 7 days). */
  eventRetentionSecs?: number;
  /** The only destinations webhooks may be registered for (URL prefixes); empty or absent: any http(s) URL. */
  webhookDestinations?: string[];
}

// ---- directory resources -----------------------------------------------------------------

export interface Avatar {
  id: string;
  url: string;
}

export interface Organization {
  id: Uuid;
  name: string;
  has_active_subscription: boolean;
  private_chat_history: boolean;
  private_chats: boolean;
  encrypt_chats: boolean;
  chat_idle_timeout_s: number;
  partner_ids: Uuid[];
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type Permission = "reports" | "settings";

export interface User {
  id: Uuid;
  organization_id: Uuid;
  first_name: string;
  last_name: string;
  full_name: string;
  alias: string | null;
  member_public_name: string;
  avatar: Avatar | null;
  is_bot: boolean;
  is_deleted: boolean;
  is_present: boolean;
  permissions: Permission[];
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface Team {
  id: Uuid;
  organization_id: Uuid;
  name: string;
  member_count: number;
  present_member_count: number;
  is_present: boolean;
  is_online: boolean;
  member_ids: Uuid[];
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RouterStep {
  user_ids?: Uuid[];
  team_ids?: Uuid[];
}

export interface Router {
  id: Uuid;
  organization_id: Uuid;
  name: string;
  steps: Required<RouterStep>[];
  created_at: Timestamp;
}

export interface Room {
  id: Uuid;
  organization_id: Uuid;
  name: string;
  language_code: string | null;
  allowed_tags: string[];
  ttl_s: number | null;
  shared_with: Uuid[];
  router_id: Uuid | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface Visitor {
  id: VisitorId;
  organization_id: Uuid;
  name: string | null;
  is_present: boolean;
  variables: Record<string, string>;
  sensitive_data_purged_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiToken {
  id: Uuid;
  user_id: Uuid;
  /** Shown once. */
  token: string;
  created_at: Timestamp;
}

export interface PresenceClient {
  id: Uuid;
  expires_at: Timestamp | null;
  presence_expires_in: number | null;
}

/** A user's unexpired presence client, as `GET /users/<user_id>/clients` lists it. */
export interface ListedPresenceClient {
  id: Uuid;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Null for a presence the host set to last until changed. */
  expires_at: Timestamp | null;
}

export interface VisitorAuth {
  visitor_id: VisitorId;
  visitor_secret_id: string;
  organization_id: Uuid;
  access_token: string;
  expires_at: Timestamp;
  expires_in: number;
}

// ---- chats, memberships, messages ----------------------------------------------------------

export type ChatType = "visitor" | "operator" | "group" | "task" | "external";

export interface Chat {
  id: Uuid;
  token: string;
  created_at: Timestamp;
  ended_at: Timestamp | null;
  waiting_started_at: Timestamp | null;
  updated_at: Timestamp;
  room_id: Uuid | null;
  room_name: string | null;
  room_organization_id: Uuid;
  chat_type: ChatType;
  is_private: boolean;
  is_real_conversation: boolean;
  is_autosuggested: boolean;
  is_encrypted: boolean;
  encrypted_symmetric_key: string | null;
  message_count: number;
  user_message_count: number;
  visitor_message_count: number;
  has_messages: boolean;
  has_user_messages: boolean;
  has_visitor_messages: boolean;
  first_visitor_message_url: string | null;
  first_visitor_message_url_title: string | null;
  autosuggest_url: string | null;
  autosuggest_url_title: string | null;
  tag_count: number;
  is_waiting: boolean;
  is_pending: boolean;
  is_ended: boolean;
  member_count: number;
  user_member_count: number;
  visitor_member_count: number;
  present_participant_count: number;
  present_user_participant_count: number;
  present_visitor_participant_count: number;
  /** Seconds. */
  visitor_wait_time: number | null;
  /** Seconds; null until the chat ends. */
  duration: number | null;
  /** Seconds; null until the chat ends. */
  active_duration: number | null;
  legacy_conversation_state: "ended" | "waiting" | "open";
  legacy_room_id: string | null;
}

export type ComposingStatus = "idle" | "typing" | "typed";

export interface Membership {
  member_id: string;
  member_type: "user" | "visitor";
  member_name: string | null;
  member_public_name: string | null;
  member_avatar: Avatar | null;
  member_organization_id: Uuid | null;
  chat_id: Uuid;
  room_id: Uuid | null;
  room_organization_id: Uuid;
  created_at: Timestamp;
  last_seen_at: Timestamp | null;
  updated_at: Timestamp;
  chat_created_at: Timestamp;
  is_bot: boolean;
  is_user_deleted: boolean;
  is_participating: boolean;
  is_present: boolean;
  composing_status: ComposingStatus;
  message_count: number;
  legacy_member_id: string;
}

/** A membership as visitors read it: without the private `member_name`. */
export type VisitorMembership = Omit<Membership, "member_name">;

export type ActionStyle =
  | "primary"
  | "secondary"
  | "info"
  | "success"
  | "warning"
  | "danger"
  | "link"
  | "brand_primary"
  | "brand_secondary";

export interface Action {
  id: Uuid;
  text: string;
  type: "button" | "link_button";
  link_target: "_blank" | "_parent" | null;
  value: string;
  style: ActionStyle;
  is_disabled_on_selection: boolean;
  is_disabled_on_visitor_message: boolean;
  /** The effect of the two rules above so far. */
  is_disabled: boolean;
}

export interface Attachment {
  id: Uuid;
  title: string | null;
  title_link_url: string | null;
  text: string | null;
  image_url: string | null;
  image_link_url: string | null;
  link_target: "_blank" | "_parent" | null;
  actions: Action[];
  interaction_id: string | null;
  attachment_url: string | null;
  parameters: Record<string, unknown> | null;
}

export type MessageType = "msg" | "join" | "leave" | "autosuggest" | "action" | "interaction_submit";

export interface SelectedReplySuggestion {
  id: Uuid;
  suggestion: string;
  relevancy_score: number | null;
}

export interface Message {
  id: Uuid;
  type: MessageType;
  chat_id: Uuid;
  room_id: Uuid | null;
  created_at: Timestamp;
  sender_type: "user" | "visitor" | "system";
  sender_id: string | null;
  sender_public_name: string | null;
  /** Absent in the visitors' API. */
  sender_name?: string | null;
  sender_avatar: Avatar | null;
  message: string | null;
  is_encrypted: boolean;
  encrypted_message?: string;
  sensitive_data_purged_at: Timestamp | null;
  selected_reply_suggestion_id: Uuid | null;
  selected_reply_suggestion: SelectedReplySuggestion | null;
  attachments: Attachment[];
  attachment_template: "generic" | "interaction" | "external" | null;
  response_to_message_id: Uuid | null;
  response_to_attachment_id: Uuid | null;
  response_to_attachment: Attachment | null;
  response_to_action_id: Uuid | null;
  response_to_action: Action | null;
  response_value: string | null;
  response_text: string | null;
}

// ---- invitations, tags, conversation starters, reply suggestions ---------------------------

export interface UserSummary {
  id: Uuid;
  full_name: string;
  first_name: string;
  last_name: string;
  organization_id: Uuid;
}

export interface Invitation {
  id: Uuid;
  is_accepted: boolean;
  is_expired: boolean;
  invited_by_user_id: Uuid;
  invited_by_user: UserSummary | null;
  chat_id: Uuid;
  room_id: Uuid | null;
  invited_user_id: Uuid | null;
  invited_team_id: Uuid | null;
  invited_organization_id: Uuid | null;
  invitee_name: string;
  accepted_by_user_id: Uuid | null;
  accepted_by_user: UserSummary | null;
  user_member_count: number;
  visitor_member_count: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  accepted_at: Timestamp | null;
  expired_at: Timestamp | null;
}

export interface Tag {
  name: string;
  /** SHA-1 of the name, lowercase hex. */
  hashed_name: string;
  created_at: Timestamp;
  room_id: Uuid | null;
}

export interface ConversationStarter {
  language_code: string;
  message: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SuggestionUser extends UserSummary {
  is_bot: boolean;
}

export interface ReplySuggestion {
  id: Uuid;
  suggestion: string;
  relevancy_score: number | null;
  created_by_user_id: Uuid;
  created_by_user: SuggestionUser | null;
  updated_by_user_id: Uuid;
  updated_by_user: SuggestionUser | null;
  room_id: Uuid | null;
  chat_id: Uuid;
  message_id: Uuid;
  organization_id: Uuid;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// ---- host reports ------------------------------------------------------------------------

export interface SeedReport {
  organizations: number;
  users: number;
  teams: number;
  rooms: number;
  visitors: number;
}

export interface PurgeReport {
  chats: number;
  messages: number;
  visitors: number;
  /** Whether the write-ahead log was truncated afterwards (false in memory and in WebAssembly). */
  wal_truncated: boolean;
}

/** Whether the engine holds an organization's key; never the key. */
export interface OrgKeyStatus {
  held: boolean;
  /** When the current key was generated or brought. */
  created_at: Timestamp | null;
  /** When the organization last purged its key. */
  purged_at: Timestamp | null;
}

export interface RotationReport {
  chats_rewrapped: number;
  chats_skipped: number;
}

/** A change on a channel (contract section 8). `removed` events carry no resource; `changed`
 * events carry only the changed attributes. */
export interface ChatEvent {
  channel: string;
  action: "added" | "changed" | "removed";
  resource_id: string;
  resource?: Record<string, unknown> | null;
  seq: number;
}

/** `events_since`: `resync` is true when `since` is older than the engine keeps. */
export interface EventPage {
  events: ChatEvent[];
  last_seq: number;
  resync?: boolean;
}

export interface Webhook {
  id: Uuid;
  organization_id: Uuid;
  url: string;
  channels: string[];
  actions: Array<"added" | "changed" | "removed">;
  user_id: Uuid | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookDelivery {
  id: number;
  webhook_id: Uuid;
  event_seq: number;
  event: unknown;
  attempts: number;
  /** `failed`: retries ended (see `retry_webhook_delivery`). */
  state: "pending" | "delivered" | "failed";
  is_delivered: boolean;
  delivered_at: string | null;
  failed_at: string | null;
  /** null once delivered or failed. */
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
}

/** A delivery the host should POST now: `body` to `url` with `headers` ([name, value] pairs). */
export interface DueDelivery {
  id: number;
  webhook_id: Uuid;
  url: string;
  body: string;
  headers: Array<[string, string]>;
  attempts: number;
}

export interface WebhookInput {
  url?: string;
  channels?: string[];
  actions?: Array<"added" | "changed" | "removed">;
  secret?: string;
  user_id?: Uuid;
}

export interface MaintenanceReport {
  chats_ended: number;
  typing_settled: number;
  presences_expired: number;
  /** Events older than the retention window, deleted by this run. */
  events_deleted: number;
  more_due: boolean;
}

// ---- inputs ------------------------------------------------------------------------------

export interface NewOrganization {
  id?: Uuid;
  name: string;
  has_active_subscription?: boolean;
  private_chat_history?: boolean;
  private_chats?: boolean;
  encrypt_chats?: boolean;
  chat_idle_timeout_s?: number;
  partner_ids?: Uuid[];
}
export type OrganizationPatch = Partial<Omit<NewOrganization, "id">>;

export interface NewUser {
  id?: Uuid;
  first_name: string;
  last_name: string;
  alias?: string | null;
  avatar_url?: string | null;
  is_bot?: boolean;
  permissions?: Permission[];
  is_present?: boolean;
}
export interface UserPatch {
  first_name?: string;
  last_name?: string;
  alias?: string | null;
  avatar_url?: string | null;
  is_bot?: boolean;
  permissions?: Permission[];
}
export interface NewTeam {
  id?: Uuid;
  name: string;
  member_ids?: Uuid[];
}
export interface NewRouter {
  id?: Uuid;
  name: string;
  steps?: RouterStep[];
}
export interface NewRoom {
  id?: Uuid;
  name: string;
  language_code?: string | null;
  allowed_tags?: string[];
  ttl_s?: number | null;
  shared_with?: Uuid[];
  router_id?: Uuid | null;
}
export interface RoomPatch {
  name?: string;
  language_code?: string | null;
  allowed_tags?: string[];
  ttl_s?: number | null;
  router_id?: Uuid | null;
  shared_with?: Uuid[];
}

/** A seed file (see contract §4): ids and API tokens given in the file. */
export interface Seed {
  organizations?: NewOrganization[];
  users?: (NewUser & { organization_id: Uuid; api_token?: string })[];
  teams?: (NewTeam & { organization_id: Uuid })[];
  rooms?: (NewRoom & { organization_id: Uuid; router?: RouterStep[] })[];
  visitors?: { id: VisitorId; room_id: Uuid; name: string | null; is_present?: boolean }[];
}

export interface NewChat {
  room_id?: Uuid;
  chat_type?: "operator" | "group" | "task" | "external";
  is_participating?: boolean;
}
export interface ChatUpdate {
  is_ended?: boolean;
  is_waiting?: boolean;
}
export interface MembershipInput {
  is_participating?: boolean;
  composing_status?: ComposingStatus;
  last_seen_at?: Timestamp | null;
}
export interface NewAction {
  text: string;
  type: "button" | "link_button";
  value: string;
  link_target?: "_blank" | "_parent";
  style?: ActionStyle;
  is_disabled_on_selection: boolean;
  is_disabled_on_visitor_message: boolean;
}
export interface NewAttachment {
  title?: string | null;
  title_link_url?: string | null;
  text?: string | null;
  image_url?: string | null;
  image_link_url?: string | null;
  link_target?: "_blank" | "_parent";
  actions?: NewAction[];
  interaction_id?: string;
  attachment_url?: string;
  parameters?: Record<string, unknown>;
}
/** A user's message (`type` defaults to `msg`). */
export interface NewUserMessage {
  type?: "msg";
  message?: string;
  attachment_template?: "generic" | "interaction" | "external";
  attachments?: NewAttachment[];
  selected_reply_suggestion_id?: Uuid;
}
/** A visitor's message, action response or interaction submit. */
export type NewVisitorMessage =
  | { type?: "msg"; message: string; url?: string; url_title?: string }
  | {
      type: "action";
      response_to_message_id: Uuid;
      response_to_attachment_id: Uuid;
      response_to_action_id: Uuid;
    }
  | {
      type: "interaction_submit";
      response_to_message_id: Uuid;
      response_to_attachment_id: Uuid;
      response_text: string;
    };

/** Query values may be typed or given as URL query strings. */
export type QueryBool = boolean | "true" | "false";
export interface PageQuery {
  cursor?: string | null;
  page_size?: number | string;
}
export interface ChatListQuery extends PageQuery {
  ordering?: "created_at" | "-created_at" | "updated_at" | "-updated_at";
  is_waiting?: QueryBool;
  is_ended?: QueryBool;
  has_messages?: QueryBool;
  has_user_messages?: QueryBool;
  has_visitor_messages?: QueryBool;
  created_at_after?: Timestamp;
  created_at_before?: Timestamp;
  is_participating?: QueryBool;
}
export interface MessageListQuery extends PageQuery {
  /** Comma-separated message types. */
  type__in?: string;
  type__not_in?: string;
}

/** The chat collections of the REST API, by scope. */
export type ChatScopeArgs =
  | { scope: "room" | "room_pending"; organization_id: Uuid; room_id: Uuid }
  | { scope: "room_visitor"; organization_id: Uuid; room_id: Uuid; visitor_id: VisitorId }
  | { scope: "owned" | "involved" | "org_routed"; organization_id: Uuid }
  | { scope: "user_pending" | "user_routed" | "user_chats"; user_id: Uuid }
  | { scope: "user_room_visitor"; user_id: Uuid; room_id: Uuid; visitor_id: VisitorId };
export type OrgChatScopeArgs = { scope: "owned" | "involved" | "org_routed"; organization_id: Uuid };
/** The scopes of a chat's tags. */
export type TagScopeArgs = OrgChatScopeArgs | { scope: "user_chats"; user_id: Uuid };
/** The scopes of reply suggestions. */
export type SuggestionScopeArgs = { scope: "user_chats" | "user_routed"; user_id: Uuid };
export interface InvitationQuery extends PageQuery {
  is_accepted?: QueryBool;
  is_expired?: QueryBool;
}
export interface SuggestionQuery extends PageQuery {
  ordering?: "created_at" | "-created_at";
}

// ---- the operation table -------------------------------------------------------------------

/** One operation: its arguments and the body of its reply. */
export interface Op<A, R> {
  args: A;
  result: R;
}
type Org = { organization_id: Uuid };
type UserArg = { user_id: Uuid };
type ChatArg = { chat_id: Uuid };
type VisitorArg = { visitor_id: VisitorId };
type Empty = Record<string, never>;

/**
 * Every operation of `chat_core::api::OPERATIONS` with typed arguments and result.
 * Operations added to core later are reachable through the untyped `call` overload until they
 * are added here (a test fails until then).
 */
export interface Operations {
  list_chats: Op<ChatScopeArgs & { query?: ChatListQuery }, Collection<Chat>>;
  get_chat: Op<ChatScopeArgs & ChatArg, Chat>;
  update_chat: Op<
    ({ scope: "owned"; organization_id: Uuid } | { scope: "user_chats"; user_id: Uuid }) &
      ChatArg & { body: ChatUpdate },
    Chat
  >;
  create_visitor_chat: Op<UserArg & { room_id: Uuid; visitor_id: VisitorId; body?: NewChat }, Chat>;
  create_user_chat: Op<UserArg & { body?: NewChat }, Chat>;
  list_memberships: Op<ChatScopeArgs & ChatArg & { query?: PageQuery }, Collection<Membership>>;
  list_user_memberships: Op<
    UserArg & { query?: PageQuery & { is_participating?: QueryBool } },
    Collection<Membership>
  >;
  list_visitor_chat_memberships: Op<
    UserArg & ChatArg & VisitorArg & { query?: PageQuery },
    Collection<Membership>
  >;
  join_pending_chat: Op<UserArg & ChatArg & { body: MembershipInput }, Membership>;
  join_routed_chat: Op<UserArg & ChatArg & { body: MembershipInput }, Membership>;
  join_org_chat: Op<
    OrgChatScopeArgs & ChatArg & { body: MembershipInput & { member_id: Uuid } },
    Membership
  >;
  update_user_membership: Op<
    UserArg & ChatArg & { body: MembershipInput; partial?: boolean },
    Membership
  >;
  list_messages: Op<ChatScopeArgs & ChatArg & { query?: MessageListQuery }, Collection<Message>>;
  get_message: Op<ChatScopeArgs & ChatArg & { message_id: Uuid }, Message>;
  send_user_message: Op<UserArg & ChatArg & { body: NewUserMessage }, Message>;
  send_autosuggest: Op<
    UserArg & ChatArg & { body: { message: string; url?: string; url_title?: string } },
    Message
  >;
  visitor_auth: Op<Org & { body?: { visitor_secret_id?: string | null } }, VisitorAuth>;
  visitor_enter_room: Op<
    Org & { room_id: Uuid; body: { id: VisitorId; presence_expires_in?: number } },
    Visitor
  >;
  visitor_start_chat: Op<Org & { room_id: Uuid; visitor_id: VisitorId }, Chat>;
  visitor_get_chat: Op<VisitorArg & ChatArg, Chat>;
  visitor_list_messages: Op<VisitorArg & ChatArg & { query?: MessageListQuery }, Collection<Message>>;
  visitor_send_message: Op<VisitorArg & ChatArg & { body: NewVisitorMessage }, Message>;
  visitor_get_membership: Op<VisitorArg & ChatArg, Membership>;
  visitor_list_memberships: Op<VisitorArg & ChatArg & { query?: PageQuery }, Collection<VisitorMembership>>;
  visitor_list_chats: Op<VisitorArg & { query?: PageQuery }, Collection<Chat>>;
  visitor_update_membership: Op<
    VisitorArg & ChatArg & { body: MembershipInput; partial?: boolean },
    Membership
  >;
  create_organization: Op<{ body: NewOrganization }, Organization>;
  get_organization: Op<Org, Organization>;
  update_organization: Op<Org & { body: OrganizationPatch }, Organization>;
  list_users: Op<Org & { query?: PageQuery }, Collection<User>>;
  create_user: Op<Org & { body: NewUser }, User>;
  get_user: Op<Org & UserArg, User>;
  update_user: Op<Org & UserArg & { body: UserPatch }, User>;
  delete_user: Op<Org & UserArg, null>;
  me: Op<Empty, User>;
  create_api_token: Op<UserArg, ApiToken>;
  revoke_api_token: Op<UserArg & { token_id: Uuid }, null>;
  list_teams: Op<Org & { query?: PageQuery }, Collection<Team>>;
  create_team: Op<Org & { body: NewTeam }, Team>;
  get_team: Op<Org & { team_id: Uuid }, Team>;
  add_team_member: Op<Org & { team_id: Uuid; body: { user_id: Uuid } }, Team>;
  remove_team_member: Op<Org & { team_id: Uuid; user_id: Uuid }, null>;
  list_routers: Op<Org, Collection<Router>>;
  create_router: Op<Org & { body: NewRouter }, Router>;
  list_rooms: Op<Org & { query?: PageQuery }, Collection<Room>>;
  create_room: Op<Org & { body: NewRoom }, Room>;
  get_room: Op<Org & { room_id: Uuid }, Room>;
  update_room: Op<Org & { room_id: Uuid; body: RoomPatch }, Room>;
  get_user_room: Op<UserArg & { room_id: Uuid }, Room>;
  share_room: Op<Org & { room_id?: Uuid; body: { room_id?: Uuid; organization_id: Uuid } }, Room>;
  share_team: Op<Org & { team_id?: Uuid; body: { team_id?: Uuid; organization_id: Uuid } }, Team>;
  get_room_visitor: Op<UserArg & { room_id: Uuid; visitor_id: VisitorId }, Visitor>;
  set_visitor_variable: Op<
    Org & { room_id: Uuid; visitor_id: VisitorId; body: { key: string; value: string } },
    Visitor
  >;
  create_presence_client: Op<UserArg & { body: { presence_expires_in: number } }, PresenceClient>;
  renew_presence_client: Op<
    UserArg & { client_id: Uuid; body: { presence_expires_in: number } },
    PresenceClient
  >;
  delete_presence_client: Op<UserArg & { client_id: Uuid }, null>;
  list_presence_clients: Op<UserArg & { query?: PageQuery }, Collection<ListedPresenceClient>>;
  list_invitations_outgoing: Op<UserArg & ChatArg & { query?: InvitationQuery }, Collection<Invitation>>;
  /** 201 sent, 200 when the invitee already has a pending invitation to the chat. */
  create_invitation: Op<
    UserArg &
      ChatArg & { body: { invited_user_id?: Uuid; invited_team_id?: Uuid; invited_organization_id?: Uuid } },
    Invitation
  >;
  expire_invitation: Op<UserArg & ChatArg & { invitation_id: Uuid; body: { is_expired: true } }, Invitation>;
  list_invitations_incoming: Op<UserArg & { query?: InvitationQuery }, Collection<Invitation>>;
  accept_invitation: Op<
    UserArg & { chat_id?: Uuid; invitation_id: Uuid; body: { is_accepted?: boolean; is_expired?: boolean } },
    Invitation
  >;
  list_tags: Op<TagScopeArgs & ChatArg & { query?: PageQuery }, Collection<Tag>>;
  list_allowed_tags: Op<TagScopeArgs & ChatArg & { query?: PageQuery }, Collection<Tag>>;
  /** 201 new, 200 when the chat already has the tag. */
  add_tag: Op<TagScopeArgs & ChatArg & { body: { name: string } }, Tag>;
  remove_tag: Op<TagScopeArgs & ChatArg & { tag_name: string }, null>;
  list_room_allowed_tags: Op<Org & { room_id: Uuid; query?: PageQuery }, Collection<Tag>>;
  /** 201 new, 200 when the room already allows the name (settings permission). */
  add_room_allowed_tag: Op<Org & { room_id: Uuid; body: { name: string } }, Tag>;
  list_conversation_starters: Op<UserArg & { query?: PageQuery }, Collection<ConversationStarter>>;
  create_conversation_starter: Op<UserArg & { body: { language_code: string; message: string } }, ConversationStarter>;
  update_conversation_starter: Op<
    UserArg & { language_code: string; body: { language_code?: string; message?: string }; partial?: boolean },
    ConversationStarter
  >;
  delete_conversation_starter: Op<UserArg & { language_code: string }, null>;
  list_reply_suggestions: Op<SuggestionScopeArgs & ChatArg & { query?: SuggestionQuery }, Collection<ReplySuggestion>>;
  list_message_reply_suggestions: Op<
    SuggestionScopeArgs & ChatArg & { message_id: Uuid; query?: SuggestionQuery },
    Collection<ReplySuggestion>
  >;
  create_reply_suggestion: Op<
    SuggestionScopeArgs & ChatArg & { message_id: Uuid; body: { suggestion: string; relevancy_score?: number | null } },
    ReplySuggestion
  >;
  update_reply_suggestion: Op<
    SuggestionScopeArgs &
      ChatArg & {
        message_id: Uuid;
        reply_suggestion_id: Uuid;
        body: { suggestion?: string; relevancy_score?: number | null };
        partial?: boolean;
      },
    ReplySuggestion
  >;
  /** Host: the organization's key-encryption key, 64 hex characters (204). */
  set_organization_key: Op<Org & { body: { key: string } }, null>;
  rotate_organization_key: Op<Org & { body: { key: string } }, RotationReport>;
  purge_organization_key: Op<Org, { was_held: boolean }>;
  get_organization_key: Op<Org, OrgKeyStatus>;
  /** The organization's own key, 64 hex characters; chat keys are rewrapped to it. */
  put_organization_key: Op<Org & { body: { key: string } }, OrgKeyStatus>;
  /** Purges the key the engine holds (irreversible; 204). */
  delete_organization_key: Op<Org, null>;
  purge_chat_sensitive_data: Op<ChatArg, PurgeReport>;
  purge_visitor_sensitive_data: Op<VisitorArg, PurgeReport>;
  set_user_presence: Op<UserArg & { body: { ttl_s: number | null } }, null>;
  set_visitor_presence: Op<VisitorArg & { body: { ttl_s: number | null } }, null>;
  load_seed: Op<{ body: Seed }, SeedReport>;
  events_since: Op<{ body: { channels: string[]; since?: number | null; limit?: number } }, EventPage>;
  list_webhooks: Op<Org, Collection<Webhook>>;
  create_webhook: Op<Org & { body: WebhookInput }, Webhook>;
  get_webhook: Op<Org & { webhook_id: Uuid }, Webhook>;
  update_webhook: Op<Org & { webhook_id: Uuid; body: WebhookInput }, Webhook>;
  delete_webhook: Op<Org & { webhook_id: Uuid }, null>;
  list_webhook_deliveries: Op<Org & { webhook_id: Uuid; query?: PageQuery }, Collection<WebhookDelivery>>;
  /** Send a failed delivery again (409 `delivery_not_failed` for any other). */
  retry_webhook_delivery: Op<Org & { webhook_id: Uuid; delivery_id: number | string }, WebhookDelivery>;
  /** Host: deliveries due now. */
  webhook_deliveries_due: Op<{ query?: { limit?: number } }, DueDelivery[]>;
  /** Host: the outcome of one delivery attempt (`status` null for a network failure). */
  record_webhook_delivery: Op<{ body: { delivery_id: number; status: number | null; error?: string } }, null>;
  maintenance: Op<Empty, MaintenanceReport>;
}

export type OperationName = keyof Operations;
export type OperationArgs<K extends OperationName> = Operations[K]["args"];
export type OperationResult<K extends OperationName> = Operations[K]["result"];
/** An operation name that the typed table does not know (yet). */
export type UntypedOperationName<K extends string> = K extends OperationName ? never : K;

// ---- the engine ----------------------------------------------------------------------------

/**
 * One chat engine over one SQLite database inside the WebAssembly module. Every method is
 * synchronous except `openOpfs`; every failure throws a {@link ChatError}.
 */
export class Engine {
  private constructor();
  /** Releases the Rust object (the database closes). Same as `close()` followed by freeing. */
  free(): void;
  [Symbol.dispose](): void;

  /** A new engine over an in-memory database. */
  static openInMemory(options?: OpenOptions): Engine;
  /**
   * A persistent engine stored in the Origin Private File System under `name`
   * (`[A-Za-z0-9._-]`, 1–100 characters). Only in a dedicated worker of a secure context;
   * elsewhere it rejects with a `storage_error` ChatError.
   */
  static openOpfs(name: string, options?: OpenOptions): Promise<Engine>;
  /**
   * Lets go of this worker's OPFS files so that another worker or tab can open them. Close the
   * engines opened with `openOpfs` first (else `storage_error`); `openOpfs` takes them again.
   */
  static releaseOpfs(): void;

  /**
   * Runs an operation with a bearer token (an API token or a visitor access token; none for
   * `visitor_auth`) and returns the reply's body. `args` may also be JSON text.
   */
  call<K extends OperationName>(op: K, args: OperationArgs<K> | string, token?: string | null): OperationResult<K>;
  /** Any other (newer) operation of core, untyped. */
  call<K extends string>(
    op: UntypedOperationName<K>,
    args?: Record<string, unknown> | string | null,
    token?: string | null,
  ): unknown;

  /** Runs an operation as an actor (the host decides who acts). Returns the body. */
  callAs<K extends OperationName>(actor: Actor, op: K, args: OperationArgs<K> | string): OperationResult<K>;
  callAs<K extends string>(
    actor: Actor,
    op: UntypedOperationName<K>,
    args?: Record<string, unknown> | string | null,
  ): unknown;

  /** Like `call`, with the HTTP-equivalent status (201 created, 200 resumed, 204 no content). */
  reply<K extends OperationName>(op: K, args: OperationArgs<K> | string, token?: string | null): Reply<OperationResult<K>>;
  reply<K extends string>(
    op: UntypedOperationName<K>,
    args?: Record<string, unknown> | string | null,
    token?: string | null,
  ): Reply<unknown>;

  /** Like `callAs`, with the HTTP-equivalent status. */
  replyAs<K extends OperationName>(actor: Actor, op: K, args: OperationArgs<K> | string): Reply<OperationResult<K>>;
  replyAs<K extends string>(
    actor: Actor,
    op: UntypedOperationName<K>,
    args?: Record<string, unknown> | string | null,
  ): Reply<unknown>;

  /** The actor behind an API token or a visitor access token (`not_authenticated` otherwise). */
  authenticate(token: string): Actor;
  /** Loads a seed (object or JSON text) as the host. */
  loadSeed(seed: Seed | string): SeedReport;
  /** Applies the time-driven rules now (idle chats end, presences expire), as the host. */
  /**
   * Calls `callback` with the events of `channels` (paths or patterns with `*`) that `actor`
   * may read: first those after `since` (when given), then after every call of this engine that
   * commits some. Returns an id for `unsubscribe`. A channel the actor may not read throws.
   */
  subscribe(actor: Actor, channels: string[], since: number | null, callback: (page: EventPage) => void): number;
  /** Ends a subscription; false when there was none with that id. */
  unsubscribe(id: number): boolean;
  maintenance(): MaintenanceReport;
  /** Every operation `call` accepts. */
  operations(): OperationSpec[];
  /** Closes the database; later calls throw `internal_error`. */
  close(): void;
  readonly isClosed: boolean;
  /** The engine's current time, ms since the epoch. */
  nowMs(): number;
  /** Manual clock only (`testClockMs`): moves time forward. */
  advanceClock(ms: number): void;
  /** Manual clock only (`testClockMs`): sets the time. */
  setClock(ms: number): void;
}

/** Every operation `Engine.call` accepts. */
export function operations(): OperationSpec[];
/** Every stable error code with its number and HTTP status. */
export function errorCodes(): ErrorCodeSpec[];
/** The engine version. */
export function version(): string;
/** Whether a caught value is a {@link ChatError}. */
export function isChatError(value: unknown): value is ChatError;

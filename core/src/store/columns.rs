//! The column lists and joins both stores read rows by: a row's layout is shared by the SQL
//! that selects it and the code that reads it by position, in each store.

pub(crate) const ORG_COLS: &str = "id, name, has_active_subscription, private_chat_history, private_chats, encrypt_chats, chat_idle_timeout_s, created_at, updated_at";

/// A user's columns, in the order `user_row_at` reads them.
pub(crate) const USER_COLS: &str = "id, organization_id, first_name, last_name, alias, avatar_id, avatar_url, is_bot, is_deleted, perm_reports, perm_settings, present_until, created_at, updated_at";

/// How many columns [`USER_COLS`] has: where the columns after a joined user start.
pub(crate) const USER_COLS_LEN: usize = 14;

pub(crate) const ROOM_COLS: &str =
    "id, organization_id, name, language_code, ttl_s, router_id, created_at, updated_at";

pub(crate) const VISITOR_COLS: &str =
    "id, organization_id, name, present_until, sensitive_data_purged_at, created_at, updated_at";

pub(crate) const WEBHOOK_COLS: &str =
    "id, organization_id, url, channels, actions, secret, user_id, created_at, updated_at";

pub(crate) const DELIVERY_COLS: &str = "id, webhook_id, event_seq, body, attempts, next_attempt_at, last_status, last_error, delivered_at, first_failed_at, failed_at, created_at";

/// A chat's stored columns and its room's name; each store's `chat_row` reads them, then the
/// four derived counts.
pub(crate) const CHAT_BASE_COLS: &str = "c.pk, c.id, c.room_id, c.room_organization_id, c.chat_type, c.visitor_id, c.is_private, c.is_encrypted, \
     c.encrypted_symmetric_key, c.created_at, c.updated_at, c.is_ended, c.ended_at, c.is_waiting, c.waiting_started_at, \
     c.message_count, c.user_message_count, c.visitor_message_count, c.tag_count, c.is_autosuggested, \
     c.first_visitor_message_url, c.first_visitor_message_url_title, c.autosuggest_url, c.autosuggest_url_title, \
     c.first_visitor_msg_at, c.first_reply_at, c.first_msg_at, c.last_msg_at, c.active_ms, c.last_activity_at, \
     c.next_message_seq, c.token, r.name";

/// A message's columns with what they join (chat ids, sender names, answered message's
/// attachments, selected suggestion): read from `messages m` and [`MESSAGE_JOINS`].
pub(crate) const MESSAGE_COLUMNS: &str = "m.chat_pk, m.seq, m.id, m.type, m.created_at, m.sender_type, m.sender_id, m.message, \
     m.selected_reply_suggestion_id, m.attachment_template, m.attachments, m.disables_on_visitor_message, \
     m.response_to_message_id, m.response_to_attachment_id, m.response_to_action_id, m.response_value, m.response_text, \
     m.sensitive_data_purged_at, c.id, c.room_id, \
     u.first_name, u.last_name, u.alias, u.avatar_id, u.avatar_url, v.name, \
     (SELECT t.attachments FROM messages t WHERE t.id = m.response_to_message_id), \
     rs.id, rs.suggestion, rs.relevancy_score";

pub(crate) const MESSAGE_JOINS: &str = "JOIN chats c ON c.pk = m.chat_pk \
     LEFT JOIN users u ON m.sender_type = 'user' AND u.id = m.sender_id \
     LEFT JOIN visitors v ON m.sender_type = 'visitor' AND v.id = m.sender_id \
     LEFT JOIN reply_suggestions rs ON rs.id = m.selected_reply_suggestion_id";

/// The stored columns of a page of one chat's messages: the same first 18 columns as
/// [`MESSAGE_COLUMNS`], without its joins. A page completes them once per distinct sender instead of
/// once per row (see `complete_page`).
pub(crate) const MESSAGE_PAGE_SELECT: &str = "SELECT m.chat_pk, m.seq, m.id, m.type, m.created_at, m.sender_type, m.sender_id, m.message, \
     m.selected_reply_suggestion_id, m.attachment_template, m.attachments, m.disables_on_visitor_message, \
     m.response_to_message_id, m.response_to_attachment_id, m.response_to_action_id, m.response_value, m.response_text, \
     m.sensitive_data_purged_at FROM messages m";

#[cfg(test)]
mod tests {
    #[test]
    fn user_cols_len_counts_user_cols() {
        assert_eq!(super::USER_COLS.split(',').count(), super::USER_COLS_LEN);
    }
}

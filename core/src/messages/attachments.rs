//! Attachment and action validation, exactly as the reference states it.

use crate::error::{ChatError, Result, Validator};
use crate::ids::IdGen;
use serde::{Deserialize, Serialize};

/// A stored attachment (ids assigned, actions with their disabled state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub title: Option<String>,
    pub title_link_url: Option<String>,
    pub text: Option<String>,
    pub image_url: Option<String>,
    pub image_link_url: Option<String>,
    pub link_target: Option<String>,
    pub actions: Vec<Action>,
    pub interaction_id: Option<String>,
    pub attachment_url: Option<String>,
    pub parameters: Option<serde_json::Value>,
}

/// A stored action. `is_disabled` is the engine's addition: it shows the effect of
/// `is_disabled_on_selection` and `is_disabled_on_visitor_message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub link_target: Option<String>,
    pub value: String,
    pub style: String,
    pub is_disabled_on_selection: bool,
    pub is_disabled_on_visitor_message: bool,
    #[serde(default)]
    pub is_disabled: bool,
}

/// An attachment as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    pub title: Option<String>,
    pub title_link_url: Option<String>,
    pub text: Option<String>,
    pub image_url: Option<String>,
    pub image_link_url: Option<String>,
    pub link_target: Option<String>,
    pub actions: Option<Vec<NewAction>>,
    pub interaction_id: Option<String>,
    pub attachment_url: Option<String>,
    pub parameters: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub link_target: Option<String>,
    pub value: Option<String>,
    pub style: Option<String>,
    pub is_disabled_on_selection: Option<bool>,
    pub is_disabled_on_visitor_message: Option<bool>,
}

pub const ACTION_STYLES: [&str; 9] = [
    "primary",
    "secondary",
    "info",
    "success",
    "warning",
    "danger",
    "link",
    "brand_primary",
    "brand_secondary",
];

/// An absolute http(s) URL with a host.
pub fn is_http_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

fn check_link_target(v: &mut Validator, field: String, t: &Option<String>) {
    if let Some(t) = t
        && t != "_blank"
        && t != "_parent"
    {
        v.add(field, "Select a valid choice: _blank or _parent.");
    }
}

fn nonblank(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|t| !t.trim().is_empty())
}

/// Validates attachments for a template and assigns ids. Returns the stored JSON and whether
/// some action disables on the next visitor message.
pub fn validate_attachments(
    template: Option<&str>,
    attachments: Vec<NewAttachment>,
    ids: &IdGen,
) -> Result<(Option<String>, Option<String>, bool)> {
    if attachments.is_empty() {
        return match template {
            None => Ok((None, None, false)),
            Some(t) if ["generic", "interaction", "external"].contains(&t) => {
                Err(ChatError::field(
                    "attachments",
                    format!("A message with the {t} template needs attachments."),
                ))
            }
            Some(_) => Err(ChatError::field(
                "attachment_template",
                "Select a valid choice: generic, interaction or external.",
            )),
        };
    }
    // Attachments without a template are generic ones.
    let template = template.unwrap_or("generic");
    let mut v = Validator::new();
    if !["generic", "interaction", "external"].contains(&template) {
        v.add(
            "attachment_template",
            "Select a valid choice: generic, interaction or external.",
        );
        return v.finish().map(|_| (None, None, false));
    }
    if template != "generic" && attachments.len() > 1 {
        v.add(
            "attachments",
            format!("Only one attachment is allowed with the {template} template."),
        );
    }
    let mut out = vec![];
    let mut disables = false;
    for (i, a) in attachments.into_iter().enumerate() {
        let f = |name: &str| format!("attachments[{i}].{name}");
        for (name, value) in [("title", &a.title), ("text", &a.text)] {
            if value.as_deref().is_some_and(|t| t.chars().count() > 2000) {
                v.add(
                    f(name),
                    "Ensure this field has no more than 2000 characters.",
                );
            }
        }
        for (name, value) in [
            ("title_link_url", &a.title_link_url),
            ("image_url", &a.image_url),
            ("image_link_url", &a.image_link_url),
            ("attachment_url", &a.attachment_url),
        ] {
            if let Some(u) = value
                && !is_http_url(u)
            {
                v.add(f(name), "Enter a valid URL.");
            }
        }
        if let Some(p) = &a.parameters
            && !p.is_object()
        {
            v.add(f("parameters"), "Parameters must be a JSON object.");
        }
        check_link_target(&mut v, f("link_target"), &a.link_target);
        let actions = a.actions.clone().unwrap_or_default();
        match template {
            "generic" => {
                if !nonblank(&a.title)
                    && !nonblank(&a.text)
                    && a.image_url.is_none()
                    && actions.is_empty()
                {
                    v.add(
                        format!("attachments[{i}]"),
                        "A generic attachment needs a title, text, image_url or actions.",
                    );
                }
                for (name, present) in [
                    ("interaction_id", a.interaction_id.is_some()),
                    ("attachment_url", a.attachment_url.is_some()),
                    ("parameters", a.parameters.is_some()),
                ] {
                    if present {
                        v.add(
                            f(name),
                            "This field cannot be used with the generic template.",
                        );
                    }
                }
            }
            _ => {
                if template == "interaction" {
                    match &a.interaction_id {
                        None => v.add(
                            f("interaction_id"),
                            "This field is required for interaction attachments.",
                        ),
                        Some(id) if uuid::Uuid::try_parse(id).is_err() => {
                            v.add(f("interaction_id"), "Must be a valid UUID.")
                        }
                        _ => {}
                    }
                    if a.attachment_url.is_some() {
                        v.add(
                            f("attachment_url"),
                            "This field cannot be used with the interaction template.",
                        );
                    }
                } else {
                    if a.attachment_url.is_none() {
                        v.add(
                            f("attachment_url"),
                            "This field is required for external attachments.",
                        );
                    }
                    if a.interaction_id.is_some() {
                        v.add(
                            f("interaction_id"),
                            "This field cannot be used with the external template.",
                        );
                    }
                }
                for (name, present) in [
                    ("title_link_url", a.title_link_url.is_some()),
                    ("image_url", a.image_url.is_some()),
                    ("image_link_url", a.image_link_url.is_some()),
                    ("link_target", a.link_target.is_some()),
                    ("actions", a.actions.is_some()),
                ] {
                    if present {
                        v.add(
                            f(name),
                            format!("This field cannot be used with the {template} template."),
                        );
                    }
                }
            }
        }
        let mut stored_actions = vec![];
        for (j, act) in actions.into_iter().enumerate() {
            let g = |name: &str| format!("attachments[{i}].actions[{j}].{name}");
            if !nonblank(&act.text) {
                v.add(g("text"), "This field is required.");
            }
            let kind = act.kind.clone().unwrap_or_default();
            match act.kind.as_deref() {
                None => v.add(g("type"), "This field is required."),
                Some("button") | Some("link_button") => {}
                Some(_) => v.add(g("type"), "Select a valid choice: button or link_button."),
            }
            match &act.value {
                None => v.add(g("value"), "This field is required."),
                Some(val)
                    if kind == "link_button"
                        && !(is_http_url(val) || (val.starts_with('#') && val.len() > 1)) =>
                {
                    v.add(
                        g("value"),
                        "A link_button value is a valid URL or an #anchor.",
                    )
                }
                _ => {}
            }
            if let Some(st) = &act.style
                && !ACTION_STYLES.contains(&st.as_str())
            {
                v.add(
                    g("style"),
                    format!("Select a valid choice: {}.", ACTION_STYLES.join(", ")),
                );
            }
            if act.is_disabled_on_selection.is_none() {
                v.add(g("is_disabled_on_selection"), "This field is required.");
            }
            if act.is_disabled_on_visitor_message.is_none() {
                v.add(
                    g("is_disabled_on_visitor_message"),
                    "This field is required.",
                );
            }
            if act.link_target.is_some() && kind != "link_button" {
                v.add(
                    g("link_target"),
                    "This field can be used only with link_button actions.",
                );
            }
            check_link_target(&mut v, g("link_target"), &act.link_target);
            let on_visitor = act.is_disabled_on_visitor_message.unwrap_or(false);
            disables |= on_visitor;
            stored_actions.push(Action {
                id: ids.new_id().to_string(),
                text: act.text.unwrap_or_default(),
                link_target: if kind == "link_button" {
                    Some(act.link_target.unwrap_or_else(|| "_blank".into()))
                } else {
                    None
                },
                kind,
                value: act.value.unwrap_or_default(),
                style: act.style.unwrap_or_else(|| "secondary".into()),
                is_disabled_on_selection: act.is_disabled_on_selection.unwrap_or(false),
                is_disabled_on_visitor_message: on_visitor,
                is_disabled: false,
            });
        }
        let has_link = a.title_link_url.is_some() || a.image_link_url.is_some();
        out.push(Attachment {
            id: ids.new_id().to_string(),
            title: a.title,
            title_link_url: a.title_link_url,
            text: a.text,
            image_url: a.image_url,
            image_link_url: a.image_link_url,
            link_target: if has_link {
                Some(a.link_target.unwrap_or_else(|| "_blank".into()))
            } else {
                None
            },
            actions: stored_actions,
            interaction_id: a.interaction_id,
            attachment_url: a.attachment_url,
            parameters: a.parameters,
        });
    }
    v.finish()?;
    let json = serde_json::to_string(&out)
        .map_err(|e| ChatError::internal(format!("attachments: {e}")))?;
    Ok((Some(template.to_string()), Some(json), disables))
}

//! The page frame: a header (title, status, key facts) and [`Section`]s,
//! rendered with tinytemplate (every `{value}` is HTML-escaped; only markup
//! this module made itself goes in unescaped).

use serde::Serialize;
use thiserror::Error;
use tinytemplate::TinyTemplate;

/// Why a page could not be made.
#[derive(Debug, Error)]
pub enum HtmlError {
    /// A template failed to compile or render (a bug of ours).
    #[error("report.html template {name}: {reason}")]
    Template {
        /// The template.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A chart could not be drawn.
    #[error("report.html chart {chart}: {reason}")]
    Chart {
        /// Which chart.
        chart: String,
        /// Why.
        reason: String,
    },
    /// The file could not be written.
    #[error("{path}: cannot write: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Every template of the pages, by name.
const TEMPLATES: [(&str, &str); 10] = [
    ("page", include_str!("templates/page.html")),
    ("topology", include_str!("templates/topology.html")),
    ("timeline", include_str!("templates/timeline.html")),
    ("flows", include_str!("templates/flows.html")),
    ("control", include_str!("templates/control.html")),
    ("ike", include_str!("templates/ike.html")),
    ("verdicts", include_str!("templates/verdicts.html")),
    (
        "replay_summary",
        include_str!("templates/replay_summary.html"),
    ),
    (
        "replay_interfaces",
        include_str!("templates/replay_interfaces.html"),
    ),
    ("replay_flows", include_str!("templates/replay_flows.html")),
];

/// The page's style sheet.
const STYLE: &str = include_str!("templates/style.css");

/// Renders template `name` with `context`.
pub(super) fn render<C: Serialize>(name: &'static str, context: &C) -> Result<String, HtmlError> {
    let error = |e: tinytemplate::error::Error| HtmlError::Template {
        name,
        reason: e.to_string(),
    };
    let mut engine = TinyTemplate::new();
    let text = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or(HtmlError::Template {
            name,
            reason: "no such template".into(),
        })?;
    engine.add_template(name, text).map_err(error)?;
    engine.render(name, context).map_err(error)
}

/// One labelled value of the header.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// What it is.
    pub label: String,
    /// Its value.
    pub value: String,
}

impl Fact {
    pub(super) fn new(label: &str, value: impl ToString) -> Self {
        Self {
            label: label.to_string(),
            value: value.to_string(),
        }
    }
}

/// One section of a page: a heading and a body already rendered by one of
/// this module's templates.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// The anchor (`flows`, `timeline`, ...).
    pub id: String,
    /// The heading.
    pub title: String,
    /// The markup (rendered, escaped).
    body: String,
}

impl Section {
    /// A section whose body is template `template` rendered with `context`.
    pub(crate) fn from_template<C: Serialize>(
        id: &str,
        title: &str,
        template: &'static str,
        context: &C,
    ) -> Result<Self, HtmlError> {
        Ok(Self {
            id: id.to_string(),
            title: title.to_string(),
            body: render(template, context)?,
        })
    }
}

/// A whole page.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The `<title>` and heading.
    pub title: String,
    /// A line under the heading.
    pub subtitle: String,
    /// `ok` or `fail`: the banner's colour.
    pub status: &'static str,
    /// The banner's text.
    pub status_text: String,
    /// Key facts under the banner.
    pub facts: Vec<Fact>,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

#[derive(Serialize)]
struct PageContext<'p> {
    page: &'p Page,
    style: &'static str,
    generator: String,
}

impl Page {
    /// The self-contained HTML document.
    pub fn render(&self) -> Result<String, HtmlError> {
        render(
            "page",
            &PageContext {
                page: self,
                style: STYLE,
                generator: format!("erdp {}", env!("CARGO_PKG_VERSION")),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_escaped_and_sections_are_kept_in_order() {
        let hostile = "<script>alert('x')</script> & \"q\"";
        let page = Page {
            title: hostile.into(),
            subtitle: String::new(),
            status: "ok",
            status_text: "fine".into(),
            facts: vec![Fact::new("seed", hostile)],
            sections: vec![
                Section::from_template(
                    "verdicts",
                    "one",
                    "verdicts",
                    &serde_json::json!({ "verdicts": [{ "level": "leak", "message": hostile }] }),
                )
                .expect("renders"),
            ],
        };
        let html = page.render().expect("renders");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("id=\"verdicts\""));
    }
}

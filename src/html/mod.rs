//! `report.html`: one self-contained page per run that a person opens in a
//! browser (inline CSS and SVG; no script, font or request outside the
//! file), made from the data of `report.json` only: [`run_page`] for
//! `erdp run`, [`replay_page`] for `erdp replay`. A page is a header and a
//! list of [`Section`]s, each from a small template that escapes every text;
//! charts and the topology are drawn with plotters' SVG backend.

mod chart;
mod page;
mod replay;
mod run;
mod topology;

use std::path::Path;

pub use page::{Fact, HtmlError, Page, Section};
pub use replay::replay_page;
pub use run::{LinkUse, link_uses, run_page};

/// The page's file name beside `report.json`.
pub const HTML_FILE: &str = "report.html";

/// Writes a rendered page to `path` (the one place pages reach the disk).
pub fn write_html(path: &Path, html: &str) -> Result<(), HtmlError> {
    std::fs::write(path, html).map_err(|e| HtmlError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

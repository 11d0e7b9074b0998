//! `report.html`: one self-contained page per run that a person opens in a
//! browser (inline CSS and SVG; no script, font or request outside the
//! file), made from the data of `report.json` only: [`run_page`] for
//! `erdp run`, [`replay_page`] for `erdp replay`. A page is a header and a
//! list of [`Section`]s, each from a small template that escapes every text;
//! charts and the topology are drawn with plotters' SVG backend.

mod chart;
mod ike;
mod page;
mod replay;
mod run;
mod topology;

use std::path::Path;

pub use page::{Fact, HtmlError, Page, Section};
pub use replay::replay_page;
pub use run::{LinkUse, link_uses, run_page};

/// The page's file name beside `report.json`.
pub(crate) const HTML_FILE: &str = "report.html";

/// Writes a rendered page to a path of the user's choice (`--html FILE`),
/// all or nothing: under a temporary name beside it, then renamed. A page
/// in the output directory goes through `output::OutputDir`.
pub(crate) fn write_html(path: &Path, html: &str) -> Result<(), HtmlError> {
    let error = |e: std::io::Error| HtmlError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let name = path.file_name().ok_or_else(|| HtmlError::Write {
        path: path.display().to_string(),
        reason: "is not a file name".into(),
    })?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    let partial = path.with_file_name(partial_name);
    if let Err(e) = std::fs::write(&partial, html) {
        let _ = std::fs::remove_file(&partial);
        return Err(error(e));
    }
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        error(e)
    })
}

/// The run page as text: [`run_page`] rendered (a [`PageRenderer`] for
/// `erdp run`'s output directory).
///
/// [`PageRenderer`]: crate::scenario::PageRenderer
pub(crate) fn render_run_page(report: &crate::scenario::RunReport) -> Result<String, String> {
    run_page(report)
        .and_then(|page| page.render())
        .map_err(|e| e.to_string())
}

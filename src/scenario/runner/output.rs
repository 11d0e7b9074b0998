//! What a run writes when it has an output directory: one pcap per link,
//! `report.json` and the report page, all committed together or not at all
//! ([`OutputDir`]).

use std::io::BufWriter;

use super::super::ScenarioError;
use super::super::report::RunReport;
use super::super::topology::Topology;
use super::{PageRenderer, REPORT_FILE, RunOptions};
use crate::emu::{CapturePoint, LinkCapture};
use crate::output::OutputDir;

/// The output directory `options` asks for, prepared (`None`: no output).
pub(super) fn prepare(options: &RunOptions) -> Result<Option<OutputDir>, ScenarioError> {
    Ok(match &options.out_dir {
        Some(dir) => Some(OutputDir::prepare(dir)?),
        None => None,
    })
}

/// One pcap per link, written under temporary names in `out`; returns
/// their paths.
pub(super) fn open_captures(
    topo: &mut Topology,
    out: &mut OutputDir,
) -> Result<Vec<String>, ScenarioError> {
    let mut files = Vec::new();
    for (index, name) in topo.link_names.iter().enumerate() {
        let file_name = format!("{name}.pcap");
        let path = out.path(&file_name).display().to_string();
        let file = BufWriter::new(out.create(&file_name)?);
        let capture = LinkCapture::new(Box::new(file), path.clone(), CapturePoint::Receive)
            .map_err(|e| ScenarioError::Output {
                path: e.path.clone(),
                reason: e.reason,
            })?;
        if let Some(&link) = topo.links.get(index) {
            topo.sim
                .capture(link, capture)
                .map_err(|e| ScenarioError::invalid(name, e.to_string()))?;
        }
        files.push(path);
    }
    Ok(files)
}

/// Flushes the pcaps. A capture that failed (disk full, file size limit)
/// fails the run: its pcap is cut short.
pub(super) fn finish_captures(topo: &mut Topology) -> Result<(), ScenarioError> {
    let written = topo.sim.finish_captures();
    match written.into_iter().find_map(|(_, result)| result.err()) {
        Some(error) => Err(ScenarioError::Output {
            path: error.path,
            reason: error.reason,
        }),
        None => Ok(()),
    }
}

/// Writes `report.json` and the page, then commits every file.
pub(super) fn write(
    mut out: OutputDir,
    report: &RunReport,
    page: Option<(&'static str, PageRenderer)>,
) -> Result<(), ScenarioError> {
    write_json(&mut out, report)?;
    if let Some((name, render)) = page {
        let page = render(report).map_err(|reason| ScenarioError::Output {
            path: out.path(name).display().to_string(),
            reason,
        })?;
        out.write(name, page.as_bytes())?;
    }
    out.commit()?;
    Ok(())
}

fn write_json(out: &mut OutputDir, report: &RunReport) -> Result<(), ScenarioError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| ScenarioError::Output {
        path: out.path(REPORT_FILE).display().to_string(),
        reason: e.to_string(),
    })?;
    out.write(REPORT_FILE, text.as_bytes())?;
    Ok(())
}

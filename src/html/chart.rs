//! The throughput timeline of one link, drawn with plotters' SVG backend:
//! ESP, plaintext and non-IP bytes stacked per bucket of virtual time, in
//! Mb/s, with numbered vertical marks for faults and BGP session changes.

use plotters::prelude::*;

use super::page::HtmlError;
use crate::emu::LinkSeries;

/// Chart size in pixels (the page scales it down on narrow screens).
const SIZE: (u32, u32) = (1100, 190);

const ESP: RGBColor = RGBColor(0x1a, 0x7f, 0x37);
const PLAIN: RGBColor = RGBColor(0xbc, 0x4c, 0x00);
const OTHER: RGBColor = RGBColor(0xaf, 0xb8, 0xc1);
const FAULT: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
const BGP: RGBColor = RGBColor(0x09, 0x69, 0xda);
const IKE: RGBColor = RGBColor(0x82, 0x50, 0xdf);

/// What a mark on the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerKind {
    /// A fault of the scenario (link down/up, tunnel down/up).
    Fault,
    /// A BGP session change (a failure detected, a session back).
    Bgp,
    /// An IKE event (a CHILD_SA installed: the first, or a rekey).
    Ike,
}

/// A vertical mark.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    /// When, in seconds of virtual time.
    pub at_s: f64,
    /// Its short label (the event's number in the table below the charts).
    pub label: String,
    /// Its kind.
    pub kind: MarkerKind,
}

/// A drawn chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// The `<svg>` element.
    pub svg: String,
    /// The highest stacked bucket, in Mb/s.
    pub peak_mbps: f64,
}

/// Step points `(t, value)` of a per-bucket series, so a bucket's value
/// holds over its whole width.
fn steps(values: impl Iterator<Item = f64>, bucket_s: f64) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for (i, v) in values.enumerate() {
        let start = i as f64 * bucket_s;
        points.push((start, v));
        points.push((start + bucket_s, v));
    }
    points
}

/// Draws `series` over `[0, end_s]`, buckets `bucket_ms` wide.
pub(crate) fn link_chart(
    series: &LinkSeries,
    bucket_ms: f64,
    end_s: f64,
    markers: &[Marker],
) -> Result<Chart, HtmlError> {
    let error = |e: &dyn std::fmt::Display| HtmlError::Chart {
        chart: series.name.clone(),
        reason: e.to_string(),
    };
    let bucket_s = (bucket_ms / 1e3).max(1e-3);
    let to_mbps = 8.0 / bucket_s / 1e6;
    let at = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0) as f64 * to_mbps;
    let buckets = series.esp_bytes.len();
    let esp: Vec<f64> = (0..buckets).map(|i| at(&series.esp_bytes, i)).collect();
    let plain: Vec<f64> = (0..buckets)
        .map(|i| esp[i] + at(&series.plain_bytes, i))
        .collect();
    let total: Vec<f64> = (0..buckets)
        .map(|i| plain[i] + at(&series.other_bytes, i))
        .collect();
    let peak = total.iter().copied().fold(0.0, f64::max);
    let top = if peak > 0.0 { peak * 1.15 } else { 1.0 };
    let end = end_s.max(buckets as f64 * bucket_s).max(bucket_s);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..top)
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .x_desc("virtual time (s)")
            .y_desc("Mb/s")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .draw()
            .map_err(|e| error(&e))?;
        for (values, colour) in [(&total, OTHER), (&plain, PLAIN), (&esp, ESP)] {
            chart
                .draw_series(AreaSeries::new(
                    steps(values.iter().copied(), bucket_s),
                    0.0,
                    colour.mix(0.85).filled(),
                ))
                .map_err(|e| error(&e))?;
        }
        for marker in markers.iter().filter(|m| m.at_s <= end) {
            let colour = match marker.kind {
                MarkerKind::Fault => FAULT,
                MarkerKind::Bgp => BGP,
                MarkerKind::Ike => IKE,
            };
            chart
                .draw_series(LineSeries::new(
                    [(marker.at_s, 0.0), (marker.at_s, top)],
                    colour.stroke_width(2),
                ))
                .map_err(|e| error(&e))?;
            // Faults labelled at the top, BGP changes a line lower and
            // IKE events lower still, so a failure and its detection do
            // not overlap.
            let y = match marker.kind {
                MarkerKind::Fault => top * 0.97,
                MarkerKind::Bgp => top * 0.84,
                MarkerKind::Ike => top * 0.71,
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    marker.label.clone(),
                    (marker.at_s, y),
                    ("sans-serif", 12).into_font().color(&colour),
                )))
                .map_err(|e| error(&e))?;
        }
        root.present().map_err(|e| error(&e))?;
    }
    Ok(Chart {
        svg,
        peak_mbps: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_one_svg_with_the_marks() {
        let series = LinkSeries {
            name: "er-primary".into(),
            esp_bytes: vec![125_000, 250_000, 0],
            plain_bytes: vec![0, 12_500, 0],
            other_bytes: vec![60, 0, 0],
        };
        let marks = [Marker {
            at_s: 0.15,
            label: "7".into(),
            kind: MarkerKind::Fault,
        }];
        let chart = link_chart(&series, 100.0, 0.3, &marks).expect("draws");
        assert!(chart.svg.starts_with("<svg"), "{}", chart.svg);
        assert_eq!(chart.svg.matches("<svg").count(), 1);
        let label = chart
            .svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next())
            .any(|t| t.trim() == "7");
        assert!(label, "the mark's label: {}", chart.svg);
        // 250 kB in 100 ms is 20 Mb/s, plus 1 Mb/s of plaintext.
        assert!((chart.peak_mbps - 21.0).abs() < 1e-9, "{}", chart.peak_mbps);
    }
}
